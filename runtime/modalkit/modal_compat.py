"""The slice of Modal's API that a modalkit service file uses, so it runs here unchanged.

`import modal` becomes `from modalkit import modal_compat as modal`. `App` is the registry in which
`modalkit serve`, the worker and the Lambda handler find the service class and the web endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_ASGI_MARK = "__modalkit_asgi_app__"
_OPTIONS = "__modalkit_options__"


class App:
    """Collects what a service file declares; nothing runs until a modalkit command asks."""

    def __init__(self, name: str | None = None, **options: Any) -> None:
        self.name = name
        self.options = options
        self.classes: list[type[Any]] = []
        self.functions: list[Callable[..., Any]] = []

    def cls(self, **options: Any) -> Callable[[type[T]], type[T]]:
        def register(cls: type[T]) -> type[T]:
            setattr(cls, _OPTIONS, options)
            self.classes.append(cls)
            return cls

        return register

    def function(self, **options: Any) -> Callable[[F], F]:
        def register(fn: F) -> F:
            setattr(fn, _OPTIONS, options)
            self.functions.append(fn)
            return fn

        return register

    def asgi_factories(self) -> list[Callable[..., Any]]:
        return [fn for fn in self.functions if getattr(fn, _ASGI_MARK, False)]


def asgi_app(**options: Any) -> Callable[[F], F]:
    """Marks the function that returns the service's ASGI app (the web endpoints)."""

    def mark(fn: F) -> F:
        setattr(fn, _ASGI_MARK, True)
        return fn

    return mark


def parameter(*, default: Any = None, init: bool = True) -> Any:
    """A class parameter: here simply its default value."""
    return default


def enter(**options: Any) -> Callable[[F], F]:
    """Lifecycle hook marker; the worker loads the pipeline itself, so this is a no-op."""

    def mark(fn: F) -> F:
        return fn

    return mark


method = enter
