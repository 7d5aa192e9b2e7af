"""The real TensorBoard (the `tensorboard` package), one WSGI app for every view.

A *view* is what one TensorBoard page shows: one run (`run:<pk>`) or several runs together
(`runs:<pk>,<pk>,...`). TensorBoard's plugins ask their data provider for data "of an experiment"; here the
experiment id is the view's key, and `ViewProvider` answers each call from that view's own
`EventMultiplexer` over the runs' cached folders. The key is set by our request handler after the access
check (the client can neither choose nor forge it: the environ key is always overwritten), and every data
call, blob keys included, must name the view of the request being served: a request for one view can never
read another's data.

Views are built on first use and kept in memory, least recently used dropped beyond `max_views`; a view is
reloaded (TensorBoard reads only what was appended) when the cache brought new bytes, and rebuilt when a
file changed in place. Only plugins that read through the data provider are loaded (scalars, time series,
custom scalars, images, audio, graphs, distributions, histograms, text, PR curves, hparams, mesh); the
debugger, profiler and projector read the log folder directly and are left out.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import metrics

__all__ = ["Backend", "View", "ViewRun"]

log = logging.getLogger("runyard_server.tensorboard")

_current = threading.local()  # the view of the request this worker thread serves


@dataclass(frozen=True)
class ViewRun:
    run_pk: int
    label: str | None  # TensorBoard run-name prefix in a view of several runs; None for a one-run view
    path: Path


@dataclass
class View:
    key: str
    runs: list[ViewRun]
    multiplexer: Any = None
    provider: Any = None
    checked_at: float = 0.0  # monotonic time of the last check of the runs' files
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def run_pks(self) -> list[int]:
        return [r.run_pk for r in self.runs]


def _flags(plugins: list[Any]) -> argparse.Namespace:
    from tensorboard.plugins import base_plugin

    parser = argparse.ArgumentParser()
    for spec in plugins:
        loader = spec if isinstance(spec, base_plugin.TBLoader) else None
        if loader is None and isinstance(spec, type) and issubclass(spec, base_plugin.TBLoader):
            loader = spec()
        if loader is not None:
            loader.define_flags(parser)
    # logdir is only shown by /data/logdir and must not reveal the server's folders
    flags = parser.parse_args(["--logdir", "runyard", "--load_fast", "false", "--reload_interval", "0"])
    for spec in plugins:
        loader = spec if isinstance(spec, base_plugin.TBLoader) else None
        if loader is not None:
            loader.fix_flags(flags)
    return flags


def _plugins() -> list[Any]:
    from tensorboard.plugins.audio import audio_plugin
    from tensorboard.plugins.core import core_plugin
    from tensorboard.plugins.custom_scalar import custom_scalars_plugin
    from tensorboard.plugins.distribution import distributions_plugin
    from tensorboard.plugins.graph import graphs_plugin
    from tensorboard.plugins.histogram import histograms_plugin
    from tensorboard.plugins.hparams import hparams_plugin
    from tensorboard.plugins.image import images_plugin
    from tensorboard.plugins.mesh import mesh_plugin
    from tensorboard.plugins.metrics import metrics_plugin
    from tensorboard.plugins.pr_curve import pr_curves_plugin
    from tensorboard.plugins.scalar import scalars_plugin
    from tensorboard.plugins.text import text_plugin

    return [
        core_plugin.CorePluginLoader(include_debug_info=False),
        metrics_plugin.MetricsPlugin,
        scalars_plugin.ScalarsPlugin,
        custom_scalars_plugin.CustomScalarsPlugin,
        images_plugin.ImagesPlugin,
        audio_plugin.AudioPlugin,
        graphs_plugin.GraphsPlugin,
        distributions_plugin.DistributionsPlugin,
        histograms_plugin.HistogramsPlugin,
        text_plugin.TextPlugin,
        pr_curves_plugin.PrCurvesPlugin,
        hparams_plugin.HParamsPlugin,
        mesh_plugin.MeshPlugin,
    ]


def _provider_class() -> type:
    from tensorboard import errors
    from tensorboard.backend.event_processing import data_provider as mdp
    from tensorboard.data import provider

    def view_for(experiment_id: str) -> View:
        view: View | None = getattr(_current, "view", None)
        if view is None or experiment_id != view.key:
            raise errors.NotFoundError("no such experiment")
        return view

    class ViewProvider(provider.DataProvider):  # type: ignore[misc]
        """Answers TensorBoard's data calls from the view of the current request."""

        def __str__(self) -> str:
            return "Runyard"

        def experiment_metadata(self, ctx: Any = None, *, experiment_id: str) -> Any:
            return view_for(experiment_id).provider.experiment_metadata(ctx, experiment_id=experiment_id)

        def list_plugins(self, ctx: Any = None, *, experiment_id: str) -> Any:
            return view_for(experiment_id).provider.list_plugins(ctx, experiment_id=experiment_id)

        def list_runs(self, ctx: Any = None, *, experiment_id: str) -> Any:
            return view_for(experiment_id).provider.list_runs(ctx, experiment_id=experiment_id)

        def list_scalars(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.list_scalars(ctx, experiment_id=experiment_id, **kw)

        def read_scalars(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.read_scalars(ctx, experiment_id=experiment_id, **kw)

        def read_last_scalars(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.read_last_scalars(ctx, experiment_id=experiment_id, **kw)

        def list_tensors(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.list_tensors(ctx, experiment_id=experiment_id, **kw)

        def read_tensors(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.read_tensors(ctx, experiment_id=experiment_id, **kw)

        def list_blob_sequences(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.list_blob_sequences(ctx, experiment_id=experiment_id, **kw)

        def read_blob_sequences(self, ctx: Any = None, *, experiment_id: str, **kw: Any) -> Any:
            return view_for(experiment_id).provider.read_blob_sequences(ctx, experiment_id=experiment_id, **kw)

        def read_blob(self, ctx: Any = None, *, blob_key: str) -> Any:
            try:
                experiment_id = mdp._decode_blob_key(blob_key)[0]
            except Exception:
                raise errors.NotFoundError("no such blob") from None
            return view_for(experiment_id).provider.read_blob(ctx, blob_key=blob_key)

        def list_hyperparameters(self, ctx: Any = None, *, experiment_ids: list[str], limit: Any = None) -> Any:
            for eid in experiment_ids:
                view_for(eid)
            return super().list_hyperparameters(ctx, experiment_ids=experiment_ids, limit=limit)

        def read_hyperparameters(self, ctx: Any = None, *, experiment_ids: list[str], **kw: Any) -> Any:
            for eid in experiment_ids:
                view_for(eid)
            return super().read_hyperparameters(ctx, experiment_ids=experiment_ids, **kw)

    return ViewProvider


class Backend:
    """The one TensorBoard WSGI app, and the views it serves."""

    def __init__(self, max_views: int) -> None:
        from tensorboard import assets
        from tensorboard.backend import application

        self.max_views = max_views
        self._lock = threading.Lock()
        self._views: OrderedDict[str, View] = OrderedDict()
        plugins = _plugins()
        self.flags = _flags(plugins)
        self.provider = _provider_class()()
        self.app = application.TensorBoardWSGIApp(
            self.flags, plugins, data_provider=self.provider,
            assets_zip_provider=assets.get_default_assets_zip_provider(),
        )

    # ---- views ---------------------------------------------------------------------------------
    def view(self, key: str, runs: list[ViewRun]) -> View:
        """The view `key` (made when missing), now the most recently used; older ones beyond max_views go."""
        with self._lock:
            view = self._views.get(key)
            if view is None or view.runs != runs:
                view = View(key, runs)
                self._views[key] = view
            self._views.move_to_end(key)
            while len(self._views) > self.max_views:
                self._views.popitem(last=False)
            metrics.VIEWS.set(len(self._views))
            return view

    def drop_run(self, run_pk: int) -> None:
        """Forget every view that shows `run_pk` (its cached files were evicted)."""
        with self._lock:
            for key in [k for k, v in self._views.items() if run_pk in v.run_pks]:
                del self._views[key]
            metrics.VIEWS.set(len(self._views))

    def view_count(self) -> int:
        with self._lock:
            return len(self._views)

    @staticmethod
    def load(view: View, rebuild: bool) -> None:
        """(Re)read the view's folders: a new multiplexer when `rebuild` or none yet, else only what grew.
        Blocking; the caller holds `view.lock`."""
        from tensorboard.backend.event_processing import data_ingester, plugin_event_multiplexer
        from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider

        if rebuild or view.multiplexer is None:
            tensor_size = dict(data_ingester.DEFAULT_TENSOR_SIZE_GUIDANCE)
            mux = plugin_event_multiplexer.EventMultiplexer(
                size_guidance=data_ingester.DEFAULT_SIZE_GUIDANCE, tensor_size_guidance=tensor_size,
                purge_orphaned_data=True, max_reload_threads=1,
            )
            view.multiplexer = mux
            view.provider = MultiplexerDataProvider(mux, "runyard")
        for run in view.runs:
            if run.path.is_dir():
                view.multiplexer.AddRunsFromDirectory(str(run.path), run.label)
        view.multiplexer.Reload()

    # ---- serving -------------------------------------------------------------------------------
    def call(self, view: View, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run TensorBoard's WSGI app for one request of `view` (blocking; in a worker thread)."""
        from tensorboard.backend import experiment_id

        environ[experiment_id.WSGI_ENVIRON_KEY] = view.key  # always ours, whatever the client sent
        status_headers: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            status_headers[:] = [status, headers]
            return lambda _data: None

        _current.view = view
        try:
            result: Iterable[bytes] = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        finally:
            _current.view = None
        status, headers = status_headers
        return int(str(status).split(" ", 1)[0]), list(headers), body
