"""The worker's tools: sandboxed file access, the shell runner, proposals and the clutch.

Everything here is confined to one repository root (`sandbox`); `executor` applies tool calls
and undoes them, `clutch` defines who decides on a proposed call.
"""
