namespace SlmStudio.Core.Training;

/// <summary>
/// Watches a training run's memory through its progress events: a <see cref="MemorySnapshot"/> at every logged step
/// and at every checkpoint. Warm-up ends with the first checkpoint (by then every kind of allocation the run makes
/// has happened once: steps, evaluation, samples, saving); what resident memory does after that is the run's growth.
/// Events go on to <paramref name="inner"/> unchanged. Training reports on its own thread, so the live tensor count
/// (per thread in TorchSharp) is the trainer's.
/// </summary>
public sealed class TrainingMemoryWatch(IProgress<TrainingEvent>? inner = null) : IProgress<TrainingEvent>
{
    private readonly List<(int Step, MemorySnapshot Memory)> _afterWarmUp = [];
    private bool _warm;
    private int _step;

    public MemorySnapshot Start { get; } = MemorySnapshot.Take();
    /// <summary>The first snapshot after the first checkpoint; null until then.</summary>
    public MemorySnapshot? WarmedUp { get; private set; }
    public long PeakResidentBytes { get; private set; }
    public MemorySnapshot? Last { get; private set; }
    public TrainingFinished? Finished { get; private set; }

    /// <summary>Snapshots from warm-up on, with the step each was taken at.</summary>
    public IReadOnlyList<(int Step, MemorySnapshot Memory)> AfterWarmUp => _afterWarmUp;

    /// <summary>The most resident memory rose above its warmed-up level at any later snapshot (0 when it never did).</summary>
    public long ResidentGrowthBytes => WarmedUp is { } w ? Math.Max(0, _afterWarmUp.Max(s => s.Memory.ResidentBytes) - w.ResidentBytes) : 0;

    /// <summary>The most live tensors rose above their warmed-up count at any later snapshot.</summary>
    public long LiveTensorGrowth => WarmedUp is { } w ? Math.Max(0, _afterWarmUp.Max(s => s.Memory.LiveTensors) - w.LiveTensors) : 0;

    public void Report(TrainingEvent value)
    {
        switch (value)
        {
            case TrainingStep s:
                _step = s.Step;
                Take(afterCheckpoint: false);
                break;
            case CheckpointSaved c:
                _step = c.Step;
                Take(afterCheckpoint: true);
                break;
            case TrainingFinished f:
                Finished = f;
                break;
        }
        inner?.Report(value);
    }

    private void Take(bool afterCheckpoint)
    {
        var snapshot = MemorySnapshot.Take();
        Last = snapshot;
        PeakResidentBytes = Math.Max(PeakResidentBytes, snapshot.ResidentBytes);
        // Growth is read between steps: a checkpoint's snapshot holds its own passing buffers (they count in the peak).
        if (_warm && !afterCheckpoint)
        {
            WarmedUp ??= snapshot;
            _afterWarmUp.Add((_step, snapshot));
        }
        // The checkpoint's own snapshot is still warm-up (its buffers may not be freed yet): the next one is the base.
        if (afterCheckpoint) _warm = true;
    }
}
