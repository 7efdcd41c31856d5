"""Pure numpy/scipy audio analysis: decoding, EQ filters, spectra. Never imports the web layer."""
