"""modalkit: asynchronous ML inference, locally and in your own AWS account."""

__version__ = "0.1.0"
