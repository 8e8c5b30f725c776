"""Operating the emulator as a whole: seed files, reset, and a view of the stored world."""
