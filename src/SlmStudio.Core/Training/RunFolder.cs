namespace SlmStudio.Core.Training;

/// <summary>
/// The layout of one training run's folder: the one place that knows where the trainer, the exporter and the portal
/// find each file of a run. Everything else asks this type instead of combining paths itself.
/// </summary>
public sealed record RunFolder(string Root)
{
    public const string CancelFileName = "CANCEL";

    public static RunFolder At(string path) => new(Path.GetFullPath(path));

    /// <summary>The resolved settings the run was started with.</summary>
    public string SettingsFile => Path.Combine(Root, "run.json");

    /// <summary>Created by anyone who wants the trainer to stop at its next step (it keeps a checkpoint).</summary>
    public string CancelFile => Path.Combine(Root, CancelFileName);

    public string TokenizerFile => Path.Combine(Root, "tokenizer.json");
    public string TrainTokensFile => Path.Combine(Root, "data", "train.bin");
    public string ValidationTokensFile => Path.Combine(Root, "data", "val.bin");

    public string CheckpointDirectory => Path.Combine(Root, "checkpoint");
    /// <summary>Weights, optimizer moments and schedule position in one atomically written file.</summary>
    public string CheckpointFile => Path.Combine(CheckpointDirectory, "state.safetensors");
    public bool HasCheckpoint => Directory.Exists(CheckpointDirectory);

    /// <summary>Every progress event, one JSON object per line.</summary>
    public string MetricsFile => Path.Combine(Root, "metrics.jsonl");

    /// <summary>The best validation weights as a Hugging Face folder.</summary>
    public string ModelDirectory => Path.Combine(Root, "model");

    /// <summary>Written once, when training finished (not when it was cancelled).</summary>
    public string ResultFile => Path.Combine(Root, "result.json");

    /// <summary>Where the portal exports the run's model before registration moves it into the registry.</summary>
    public string ExportDirectory => Path.Combine(Root, "export");

    /// <summary>Runs from before dataset versions kept a copy of their input files here.</summary>
    public string LegacyInputDirectory => Path.Combine(Root, "input");
}
