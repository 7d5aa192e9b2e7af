// Changing one's password (the current one is asked for); every other session of the user ends.
import { useState } from "react";
import { auth } from "../api/client";
import { SettingsCard, useAction } from "./common";

function capitalize(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) + (s.endsWith(".") ? "" : ".") : s;
}

export function PasswordSettings() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [done, setDone] = useState(false);
  const [local, setLocal] = useState<string | null>(null);
  const act = useAction();
  const submit = async () => {
    setDone(false);
    setLocal(null);
    if (next.length < 8) return setLocal("The new password needs at least 8 characters.");
    if (next !== again) return setLocal("The two new passwords differ.");
    if (
      await act.run(() => auth.post("/api/v1/auth/password", { body: { current_password: current, new_password: next }, noAuthRedirect: true }))
    ) {
      setDone(true);
      setCurrent("");
      setNext("");
      setAgain("");
    }
  };
  return (
    <SettingsCard title="Password" testId="password-settings">
      <form
        className="stack-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label className="field">
          Current password
          <input className="input" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} name="current" />
        </label>
        <label className="field">
          New password (at least 8 characters)
          <input className="input" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} name="new" />
        </label>
        <label className="field">
          New password again
          <input className="input" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} name="again" />
        </label>
        {(local || act.error) && (
          <div className="error-inline" role="alert">
            {local ?? capitalize(act.error ?? "")}
          </div>
        )}
        {done && (
          <div className="ok-inline" role="status" data-testid="password-changed">
            Password changed. Your other sessions were signed out; API keys keep working.
          </div>
        )}
        <div>
          <button className="btn btn-primary" disabled={act.busy} data-testid="change-password">
            Change password
          </button>
        </div>
      </form>
    </SettingsCard>
  );
}
