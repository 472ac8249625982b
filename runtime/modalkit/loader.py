"""Find the service in a user's file: its class, its input/output models and its web app."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from modalkit.errors import ConfigError, PipelineLoadError
from modalkit.modal_compat import App

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modalkit.modalapp import ModalService

SPEC_ATTR = "modalkit_spec"


@dataclass(frozen=True)
class ServiceSpec:
    """What `create_web_endpoints` was given: everything the runtime needs about a service."""

    service_cls: type[ModalService]
    input_model: type[BaseModel]
    output_model: type[BaseModel]


@dataclass(frozen=True)
class LoadedService:
    path: Path
    module: ModuleType
    app: FastAPI
    spec: ServiceSpec


def import_file(path: str | Path) -> ModuleType:
    file = Path(path).resolve()
    if not file.is_file():
        raise PipelineLoadError(f"{path}: no such file; pass the path of your service's .py file")
    name = f"modalkit_service_{file.stem}"
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(file):
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"{path}: cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    # The service's own folder comes first, so its sibling modules import as they would there.
    sys.path.insert(0, str(file.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ConfigError:
        del sys.modules[name]
        raise
    except Exception as exc:
        del sys.modules[name]
        raise PipelineLoadError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return module


def load_service(path: str | Path) -> LoadedService:
    module = import_file(path)
    apps = [value for value in vars(module).values() if isinstance(value, App)]
    factories = [fn for app in apps for fn in app.asgi_factories()]
    if len(factories) != 1:
        raise PipelineLoadError(
            f"{path}: expected one `@app.function()` + `@modal.asgi_app()` function returning"
            f" create_web_endpoints(...), found {len(factories)}"
        )
    try:
        web: Any = factories[0]()
    except ConfigError:
        raise
    except Exception as exc:
        raise PipelineLoadError(f"{path}: building the web endpoints failed: {exc}") from exc
    spec = getattr(getattr(web, "state", None), SPEC_ATTR, None)
    if not isinstance(spec, ServiceSpec):
        raise PipelineLoadError(f"{path}: the asgi_app function must return create_web_endpoints(...)")
    return LoadedService(path=Path(path), module=module, app=web, spec=spec)
