"""People's accounts: a name and a password (argon2id), a role as tokens have, an optional
contractor scope (维保单位), a preferred language, and server-side sessions for the
browser. API tokens (`quality.accounts`) stay for machines.

- `models`: the users, sessions and failed-sign-in tables;
- `passwords`: hashing (argon2id), the policy, one-time passwords;
- `sessions`: session secrets, their CSRF tokens, expiry and revocation;
- `throttle`: failed sign-ins counted per name and per client address;
- `store`: creating, changing and signing in users.
"""
