import { useState, type FormEvent } from "react";
import { api, ApiError } from "../data/api";
import { CredentialFields, SubmitRow } from "../components/AuthForm";
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
        <CredentialFields username={username} onUsername={setUsername} password={password} onPassword={setPassword} />
        <SubmitRow error={error} busy={busy} label="Sign in" busyLabel="Signing in…" />
      </form>
    </div>
  );
}
