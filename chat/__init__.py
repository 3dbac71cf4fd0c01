"""BWT Chat: live specialist-network chat for Dutch building and housing supervision."""
