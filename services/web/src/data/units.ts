// Units of the system metrics the SDK (and the W&B client) record, from their names: `system/cpu` is a
// percentage, `system/memory.process_mb` megabytes, `system/gpu.0.power_w` watts. A key without a known
// unit shows bare numbers.

export interface Unit {
  /** Appended to values on the axis and in the hover ("%", "MB", ...). */
  suffix: string;
  /** Shown after the chart title. */
  label: string;
}

const PERCENT: Unit = { suffix: "%", label: "%" };
const MB: Unit = { suffix: " MB", label: "MB" };
const MBPS: Unit = { suffix: " MB/s", label: "MB/s" };
const WATT: Unit = { suffix: " W", label: "W" };
const CELSIUS: Unit = { suffix: " °C", label: "°C" };
const BYTES: Unit = { suffix: " B", label: "bytes" };

export function unitOf(key: string): Unit | null {
  if (!key.startsWith("system/")) return null;
  const k = key.slice("system/".length).toLowerCase();
  if (/(_mbps|mb_s|mb\/s)$/.test(k)) return MBPS;
  if (/(_mb|mb)$/.test(k) || /^disk\.(in|out)$/.test(k)) return MB;
  if (/(_w|\.power|powerwatts)$/.test(k)) return WATT;
  if (k.includes("temp")) return CELSIUS;
  if (/(percent|utilization|util|memoryallocated)$/.test(k) || /^(cpu|memory|disk|gpu\.\d+\.(gpu|memory))(\.process)?$/.test(k)) return PERCENT;
  if (/^network\.(sent|recv)$/.test(k)) return BYTES;
  if (/^(gpu\.\d+\.)?(cpu|memory|disk)$/.test(k)) return PERCENT;
  return null;
}

/** System metrics are stored with unix milliseconds as their step (docs/storage.md). */
export function isSystemKey(key: string): boolean {
  return key.startsWith("system/");
}
