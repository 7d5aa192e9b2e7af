// The fields and the last row shared by the sign-in and first-admin forms.

export function CredentialFields({
  username,
  onUsername,
  password,
  onPassword,
  newPassword = false,
}: {
  username: string;
  onUsername: (v: string) => void;
  password: string;
  onPassword: (v: string) => void;
  /** Let the browser offer to generate and save a password (sign-up) instead of filling a saved one. */
  newPassword?: boolean;
}) {
  return (
    <>
      <label className="field">
        Username
        <input className="input" name="username" autoComplete="username" value={username} onChange={(e) => onUsername(e.target.value.trim())} autoFocus />
      </label>
      <label className="field">
        Password
        <input
          className="input"
          name="password"
          type="password"
          autoComplete={newPassword ? "new-password" : "current-password"}
          value={password}
          onChange={(e) => onPassword(e.target.value)}
        />
      </label>
    </>
  );
}

/** The form's error (if any) and its submit button, which says `busyLabel` while the request runs. */
export function SubmitRow({ error, busy, label, busyLabel }: { error: string | null; busy: boolean; label: string; busyLabel: string }) {
  return (
    <>
      {error && (
        <div className="error-inline" role="alert">
          {error}
        </div>
      )}
      <button className="btn btn-primary" type="submit" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
    </>
  );
}
