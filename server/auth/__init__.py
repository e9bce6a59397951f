"""Staff access: accounts, passwords, sessions, tokens, SSO, audit, and the wall around /internal.

The app side is ``server.auth.staff.mount``; the CLI uses ``accounts``, ``passwords`` and
``tokens`` only, so importing this package stays light.
"""
