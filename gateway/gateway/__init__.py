"""The portal's public edge: routing, edge checks, merged API documents."""
