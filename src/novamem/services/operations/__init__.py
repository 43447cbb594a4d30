"""Running the server: admin inventory, health, metrics, operator passes and start-up checks."""
