"""「この地点の情報」 for residents: the place name, plain-language sections, the printable sheet."""
