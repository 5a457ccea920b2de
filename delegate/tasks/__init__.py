"""Task types a delegate can run. Each module registers handlers in a TaskRegistry."""
