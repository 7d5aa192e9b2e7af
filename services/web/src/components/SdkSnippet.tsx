// The first lines a new user runs: install the SDK (from this instance's own package index when it serves
// one, GET /pypi/install.json; else from PyPI), sign in to this instance, log a run. Shown by the empty
// states of the projects list and of a project's workspace.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { sdkInstallCommand } from "../data/api";
import { CopyButton } from "./CopyButton";

let cached: Promise<string> | null = null;

function useInstallCommand(): string | null {
  const [cmd, setCmd] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    cached ??= sdkInstallCommand().catch(() => "pip install runyard");
    void cached.then((c) => live && setCmd(c));
    return () => {
      live = false;
    };
  }, []);
  return cmd;
}

export function SdkSnippet({ code }: { code: string }) {
  const install = useInstallCommand();
  const login = `runyard login --host ${window.location.origin} <YOUR_API_KEY>`;
  return (
    <div className="sdk-snippet">
      <div className="snippet-row">
        <pre className="snippet" data-testid="sdk-install">
          {install ?? "pip install runyard"}
        </pre>
        {install && <CopyButton text={install} testId="copy-install" />}
      </div>
      <pre className="snippet">{`${login}\n\n${code}`}</pre>
      <p className="muted small">
        Make an API key in <Link to="/-/settings">Settings → API keys</Link>.
      </p>
    </div>
  );
}
