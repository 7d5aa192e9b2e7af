const enc = encodeURIComponent;

export function artifactsPath(entity: string, project: string, name?: string): string {
  return `/${enc(entity)}/${enc(project)}/artifacts${name ? `?name=${enc(name)}` : ""}`;
}

export function versionPath(entity: string, project: string, name: string, version: string): string {
  return `/${enc(entity)}/${enc(project)}/artifacts/${enc(name)}/${enc(version)}`;
}

export function runPath(entity: string, project: string, runId: string): string {
  return `/${enc(entity)}/${enc(project)}/runs/${enc(runId)}`;
}
