"""Loss curves as PNG files (matplotlib without a display)."""


def plot_history(history, path, title=None):
    """Training and validation loss per epoch from :class:`lmkit.trainer.FitState` history records."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    valid = [(h["epoch"], h["valid_loss"]) for h in history if h.get("valid_loss") is not None]
    if valid:
        ax.plot(*zip(*valid), "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("cross-entropy (nats per word)")
    ax.set_title(title or "loss per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
