"""Plain SQL of the auth service: it writes users, entities, api_keys, sessions, team_members, invites,
instance_settings and (with common/audit.py) the audit log."""
