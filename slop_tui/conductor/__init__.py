"""The conductor: event bus, dispatcher, stub resolver, terminal clutch, session runner.

It drives agents and tools and publishes events; it knows nothing of the UI above it.
"""
