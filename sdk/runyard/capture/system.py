"""System metrics: CPU, memory, disk, network (psutil) and NVIDIA GPUs (NVML, when present).

Keys (all floats; the ingest service stores them under `system/`):
  cpu                       overall CPU utilisation, percent
  cpu.process               this process and its children, percent of one core
  memory                    used system memory, percent
  memory.process_mb         resident memory of this process and its children, MB
  memory.available_mb       memory still available, MB
  disk                      used space of the run folder's file system, percent
  disk.read_mb, disk.write_mb   since the run started, MB
  network.sent_mb, network.recv_mb   since the run started, MB
  gpu.N.utilization         percent       gpu.N.memory            used, percent
  gpu.N.memory_mb           used, MB      gpu.N.temperature       Celsius
  gpu.N.power_w             watts         gpu.N.power_percent     of the enforced limit
Where there is no GPU (no NVML library, no device), the gpu keys are simply absent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

log = logging.getLogger("runyard")
_MB = 1024 * 1024


class _Nvml:
    """NVML through nvidia-ml-py, if the library and a driver are there; else no devices."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self._nv: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nv = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # no NVML library, no driver, no device: no GPU metrics, and no error
            self.handles = []

    def sample(self, out: dict[str, float]) -> None:
        nv = self._nv
        for i, h in enumerate(self.handles):
            p = f"gpu.{i}."
            for name, fn in (
                ("utilization", lambda h=h: float(nv.nvmlDeviceGetUtilizationRates(h).gpu)),
                ("temperature", lambda h=h: float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))),
                ("power_w", lambda h=h: nv.nvmlDeviceGetPowerUsage(h) / 1000.0),
            ):
                try:
                    out[p + name] = fn()
                except Exception:
                    pass
            try:
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                out[p + "memory"] = 100.0 * mem.used / mem.total if mem.total else 0.0
                out[p + "memory_mb"] = mem.used / _MB
            except Exception:
                pass
            try:
                limit = nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0
                if limit and p + "power_w" in out:
                    out[p + "power_percent"] = 100.0 * out[p + "power_w"] / limit
            except Exception:
                pass

    def describe(self) -> list[dict[str, Any]]:
        nv, out = self._nv, []
        for h in self.handles:
            try:
                name = nv.nvmlDeviceGetName(h)
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                out.append({"name": name if isinstance(name, str) else name.decode(), "memory_mb": mem.total // _MB})
            except Exception:
                out.append({"name": "unknown"})
        return out

    def close(self) -> None:
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except Exception:
                pass


class SystemSampler:
    """Takes one sample at a time; counters (disk, network) are relative to construction."""

    def __init__(self, path: str | os.PathLike[str] = ".", pid: int | None = None) -> None:
        self.path = os.fspath(path)
        self.proc = psutil.Process(pid or os.getpid())
        self._cpu_procs: dict[int, psutil.Process] = {}
        psutil.cpu_percent(None)
        self._proc_cpu()
        self._disk0 = self._disk_io()
        self._net0 = self._net_io()
        self.gpu = _Nvml()

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return [self.proc]

    def _proc_cpu(self) -> float:
        total = 0.0
        alive = {}
        for p in self._tree():
            cached = self._cpu_procs.get(p.pid, p)
            try:
                total += cached.cpu_percent(None)  # first call per process primes it (0.0)
                alive[p.pid] = cached
            except psutil.Error:
                pass
        self._cpu_procs = alive
        return total

    @staticmethod
    def _disk_io() -> tuple[int, int] | None:
        try:
            c = psutil.disk_io_counters()
            return (c.read_bytes, c.write_bytes) if c else None
        except Exception:
            return None

    @staticmethod
    def _net_io() -> tuple[int, int] | None:
        try:
            c = psutil.net_io_counters()
            return (c.bytes_sent, c.bytes_recv) if c else None
        except Exception:
            return None

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        try:
            out["cpu"] = psutil.cpu_percent(None)
            out["cpu.process"] = self._proc_cpu()
            vm = psutil.virtual_memory()
            out["memory"] = vm.percent
            out["memory.available_mb"] = vm.available / _MB
            rss = 0
            for p in self._tree():
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            out["memory.process_mb"] = rss / _MB
            out["disk"] = psutil.disk_usage(self.path).percent
        except Exception as exc:  # never let a sampling problem reach the training script
            log.debug("system metrics: %s", exc)
        disk, net = self._disk_io(), self._net_io()
        if disk and self._disk0:
            out["disk.read_mb"] = (disk[0] - self._disk0[0]) / _MB
            out["disk.write_mb"] = (disk[1] - self._disk0[1]) / _MB
        if net and self._net0:
            out["network.sent_mb"] = (net[0] - self._net0[0]) / _MB
            out["network.recv_mb"] = (net[1] - self._net0[1]) / _MB
        self.gpu.sample(out)
        return out

    def close(self) -> None:
        self.gpu.close()


class SystemMonitor:
    """A daemon thread that calls `sink(timestamp, sample)` every `interval` seconds until `stop()`."""

    def __init__(self, sink: Callable[[float, dict[str, float]], None], interval: float = 10.0,
                 path: str | os.PathLike[str] = ".") -> None:
        self.sink = sink
        self.interval = interval
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sampler: SystemSampler | None = None

    def start(self) -> SystemMonitor:
        self._thread = threading.Thread(target=self._loop, name="runyard-system-metrics", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        try:
            self.sampler = SystemSampler(self.path)
        except Exception as exc:
            log.debug("system metrics disabled: %s", exc)
            return
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.sink(time.time(), self.sampler.sample())
                except Exception as exc:
                    log.debug("system metrics sample dropped: %s", exc)
        finally:
            self.sampler.close()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
