"""Error text -> ranked causes: knowledge from Microsoft's and the libraries' vocabularies, a differential."""
