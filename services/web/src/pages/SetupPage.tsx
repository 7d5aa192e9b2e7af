import { useState, type FormEvent } from "react";
import { api, ApiError } from "../data/api";
import { CredentialFields, SubmitRow } from "../components/AuthForm";
import { CopyButton } from "../components/CopyButton";
import { Logo } from "../components/Logo";

const USERNAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function SetupPage({ onDone }: { onDone: () => void }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ username: string; key: string; loginError: string | null } | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!USERNAME_RE.test(username)) return setError("Usernames use lowercase letters, digits, '_', '.' and '-' (up to 64).");
    if (password.length < 8) return setError("The password needs at least 8 characters.");
    if (password !== confirm) return setError("The two passwords differ.");
    setBusy(true);
    try {
      const res = await api.signup(username, password);
      let loginError: string | null = null;
      try {
        await api.login(username, password);
      } catch (le) {
        loginError = (le as Error).message;
      }
      setCreated({ username: res.username, key: res.api_key, loginError });
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(status === 403 ? "This server already has an admin account. Sign in instead." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    const line = `runyard login --host ${window.location.origin} ${created.key}`;
    return (
      <div className="center-page">
        <div className="card auth-card wide" data-testid="api-key-panel">
          <Logo />
          <h1>Welcome, {created.username}</h1>
          <p>
            This is your <b>API key</b>. It is shown <b>only once</b>: copy it now. Scripts and notebooks use it to send
            runs here.
          </p>
          <div className="key-row">
            <code className="key-box" data-testid="api-key">
              {created.key}
            </code>
            <CopyButton text={created.key} testId="copy-key" />
          </div>
          <p>Then, in a terminal on the machine that trains, paste:</p>
          <div className="key-row">
            <code className="key-box" data-testid="login-line">
              {line}
            </code>
            <CopyButton text={line} testId="copy-line" />
          </div>
          <p className="muted small">
            After that, <span className="mono">import runyard</span> and <span className="mono">runyard.init(project="…")</span> log to
            this server.
          </p>
          {created.loginError && <div className="error-inline">Signing you in failed ({created.loginError}); continue to sign in by hand.</div>}
          <button className="btn btn-primary" onClick={onDone} data-testid="continue">
            I have saved the key — continue
          </button>
        </div>
      </div>
    );
  }

  return (
    <div className="center-page">
      <form className="card auth-card" onSubmit={submit} data-testid="setup-form">
        <Logo />
        <h1>Create the admin account</h1>
        <p className="muted">This Runyard server is new. The first account administers it.</p>
        <CredentialFields username={username} onUsername={setUsername} password={password} onPassword={setPassword} newPassword />
        <label className="field">
          Confirm password
          <input className="input" name="confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        </label>
        <SubmitRow error={error} busy={busy} label="Create account" busyLabel="Creating…" />
      </form>
    </div>
  );
}
