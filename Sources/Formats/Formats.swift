// Module Formats.
