// A run's Charts and System tabs: the same panels as the workspace, for one run, laid out automatically.
import { useMemo, useState } from "react";
import { colorAt } from "../data/colors";
import type { Run } from "../data/types";
import { Empty } from "../components/States";
import { ChartsToolbar, useChartSettings } from "./ChartsToolbar";
import { PanelsContext, useStores, type PanelRun, type PanelsEnv } from "./env";
import { autoPanels, EMPTY_LAYOUT } from "./layout";
import { PanelsView } from "./PanelsView";

const NO_MEDIA = new Map();

export function RunCharts({ entity, project, run, only, tick }: { entity: string; project: string; run: Run; only: "metrics" | "system"; tick: number }) {
  const [chart, setChart] = useChartSettings();
  const runs: PanelRun[] = useMemo(
    () => [{ id: run.id, name: run.name, color: colorAt(0), running: run.state === "running" }],
    [run.id, run.name, run.state],
  );
  const store = useStores(entity, project, runs, tick);
  const keysKey = (run.history_keys ?? []).join(",");
  const keys = useMemo(
    () => (run.history_keys ?? []).filter((k) => !k.startsWith("_") && (only === "system") === k.startsWith("system/")),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [keysKey, only],
  );
  const auto = useMemo(() => autoPanels(keys, NO_MEDIA), [keys]);
  const [layout, setLayout] = useState(EMPTY_LAYOUT);
  const env: PanelsEnv = useMemo(
    () => ({ entity, project, runs, groups: null, settings: chart, store, media: undefined, mediaError: null, tick, editable: false }),
    [entity, project, runs, chart, store, tick],
  );
  return (
    <PanelsContext.Provider value={env}>
      <ChartsToolbar state={chart} set={setChart} xKeys={keys.filter((k) => !k.startsWith("system/"))} grouped={false} loading={false} />
      <PanelsView
        auto={auto}
        layout={layout}
        onLayout={setLayout}
        editable={false}
        numericKeys={keys}
        systemOpen
        filter={chart.filter}
        empty={
          only === "system" ? (
            <Empty title="No system metrics recorded">The SDK samples CPU, memory, disk, network and GPU every few seconds unless system_metrics is off.</Empty>
          ) : (
            <Empty title="No metrics yet">This run has not logged any metrics yet.</Empty>
          )
        }
      />
    </PanelsContext.Provider>
  );
}
