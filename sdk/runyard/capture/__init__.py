"""What a run captures about its surroundings: system metrics, git state, installed packages, metadata.

Each module is a leaf with plain functions or one small class; `Run` decides when to call them.
Nothing here may raise into a training script: failures become missing values.
"""

from .environment import metadata, requirements_txt
from .git import GitInfo, git_info
from .system import SystemMonitor, SystemSampler

__all__ = ["GitInfo", "SystemMonitor", "SystemSampler", "git_info", "metadata", "requirements_txt"]
