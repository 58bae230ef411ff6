"""The canonical model: value objects, registry commands and events about students."""
