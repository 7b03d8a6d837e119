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

    /// <summary>
    /// A LoRA run's adapters in PEFT's layout (adapter_config.json, adapter_model.safetensors), inside the model folder
    /// so that they travel with it; the model folder's own weights have them merged in.
    /// </summary>
    public string AdapterDirectory => Path.Combine(ModelDirectory, Models.LoraAdapters.FolderName);

    /// <summary>The base model a fine-tuning run started from (name and weights hash), for the exported model's lineage.</summary>
    public string BaseModelFile => Path.Combine(Root, Library.BaseModelLineage.FileName);

    /// <summary>Written once, when training finished (not when it was cancelled).</summary>
    public string ResultFile => Path.Combine(Root, "result.json");

    /// <summary>Instruction tuning ("Answer questions"): exact match, token F1 and ROUGE-L on the held-out pairs, with the best
    /// and worst answers side by side (expected / got).</summary>
    public string ChatResultsFile => Path.Combine(Root, "chat-results.json");

    /// <summary>Where the portal exports the run's model before registration moves it into the registry.</summary>
    public string ExportDirectory => Path.Combine(Root, "export");

    /// <summary>Runs from before dataset versions kept a copy of their input files here.</summary>
    public string LegacyInputDirectory => Path.Combine(Root, "input");

    /// <summary>Held (an OS lock) by the one trainer working on this folder, for its whole life.</summary>
    public string TrainerLockFile => Path.Combine(Root, "trainer.lock");

    /// <summary>Held (an OS lock) by whoever exports or registers this run's model, so that happens once at a time.</summary>
    public string ExportLockFile => Path.Combine(Root, "export.lock");

    /// <summary>True while a trainer process works on this folder (it holds <see cref="TrainerLockFile"/>).</summary>
    public bool IsTrainerRunning => ExclusiveFileLock.IsHeld(TrainerLockFile);

    /// <summary>True while someone exports or registers this run (it holds <see cref="ExportLockFile"/>).</summary>
    public bool IsExportRunning => ExclusiveFileLock.IsHeld(ExportLockFile);

    /// <summary>
    /// The trainer's claim on this folder, released by the operating system when its process ends however it ends;
    /// refused with <see cref="RunFolderBusyException"/> while another trainer holds it.
    /// </summary>
    public ExclusiveFileLock LockForTrainer() =>
        ExclusiveFileLock.TryAcquire(TrainerLockFile)
        ?? throw new RunFolderBusyException($"Another training process is already working on the run folder '{Root}', so this one does not start " +
                                           "(two trainers would overwrite each other's checkpoints). Wait for it to finish, or stop it by creating " +
                                           $"a file named {CancelFileName} in that folder, then try again.");

    /// <summary>The claim to export and register this run's model; null while someone else holds it.</summary>
    public ExclusiveFileLock? TryLockExport() => ExclusiveFileLock.TryAcquire(ExportLockFile);
}

/// <summary>Another trainer holds the run folder (see <see cref="RunFolder.LockForTrainer"/>).</summary>
public sealed class RunFolderBusyException(string message) : EngineException(message);
