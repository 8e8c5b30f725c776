"""ecsram: a local, faithful emulator of Alibaba Cloud's instance RAM role system."""

__version__ = "0.1.0"
