import { useState, type FormEvent } from "react";
import { api, ApiError } from "../data/api";
import { Logo } from "../components/Logo";

export function LoginPage({ onLoggedIn }: { onLoggedIn: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (!username || !password) return setError("Enter your username and password.");
    setBusy(true);
    try {
      await api.login(username, password);
      onLoggedIn();
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(status === 401 || status === 403 ? "Wrong username or password." : (err as Error).message);
      setBusy(false);
    }
  };

  return (
    <div className="center-page">
      <form className="card auth-card" onSubmit={submit} data-testid="login-form">
        <Logo />
        <h1>Sign in</h1>
        <label className="field">
          Username
          <input className="input" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value.trim())} autoFocus />
        </label>
        <label className="field">
          Password
          <input className="input" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && (
          <div className="error-inline" role="alert">
            {error}
          </div>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
