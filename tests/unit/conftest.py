"""The job engine's unit tests share the `kit` fixture (an engine on fakes, see engine_kit)."""

from tests.unit.engine_kit import kit, sqlite_kit

__all__ = ["kit", "sqlite_kit"]
