"""Training one child: Lightning systems, rewards, settings and the train-child entry point."""
