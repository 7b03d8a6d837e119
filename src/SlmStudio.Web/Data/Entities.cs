using SlmStudio.Core.Training;

namespace SlmStudio.Web.Data;

public enum Domain { Banking, HR, Legal, Support, Other }

public enum UseCase { WriteLikeUs, AnswerQuestions, SortAndRoute }

/// <summary>The engine's names for what a run trains (<c>slm train --task</c>).</summary>
public static class TrainingTasks
{
    public const string Text = "text";
    public const string Classify = "classify";
    public const string Chat = "chat";

    public static string Of(UseCase useCase) => useCase switch
    {
        UseCase.SortAndRoute => Classify,
        UseCase.AnswerQuestions => Chat,
        _ => Text,
    };
}

public enum RunStatus { Queued, Running, Interrupted, Trained, Exporting, Succeeded, Failed, Cancelled }

/// <summary>A user's project; the wizard saves it after every step so it can be continued later.</summary>
public sealed class Project
{
    public int Id { get; set; }
    public required string Name { get; set; }
    public string Description { get; set; } = "";
    public Domain Domain { get; set; } = Domain.Other;
    public UseCase UseCase { get; set; } = UseCase.WriteLikeUs;
    /// <summary>The wizard step the user last reached (0 = goals).</summary>
    public int WizardStep { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    // A newcomer's first run is a quick one; the engine's own defaults aim higher (see TrainingOptions.QuickStart).
    public string Preset { get; set; } = TrainingOptions.QuickStart.Preset;
    public int VocabSize { get; set; } = TrainingOptions.QuickStart.VocabSize;
    /// <summary>Fine-tuning starts from this registered version instead of a preset.</summary>
    public int? BaseVersionId { get; set; }
    /// <summary>Fine-tuning starts from this base model of the library (its library name) instead of a preset.</summary>
    public string? BaseModelName { get; set; }
    /// <summary>Fine-tune the base model with low-rank adapters (LoRA) instead of all its weights.</summary>
    public bool UseLora { get; set; }
    public int TimeBudgetMinutes { get; set; } = TrainingOptions.QuickStart.Minutes;
    public int? MaxSteps { get; set; }
    public int Seed { get; set; } = TrainingOptions.QuickStart.Seed;
    public int? EvalEvery { get; set; }

    /// <summary>Replace emails, phone numbers, IBANs, card numbers and national IDs with placeholders (on for new projects).</summary>
    public bool RedactPersonalData { get; set; } = true;
    /// <summary>Leave out exact and near-duplicate paragraphs/rows.</summary>
    public bool RemoveDuplicates { get; set; } = true;
    /// <summary>The dataset version frozen when the user last continued from the data step; new runs train on it.</summary>
    public int? DatasetVersionId { get; set; }

    public List<GoalTest> GoalTests { get; set; } = [];
    public List<DataFile> Files { get; set; } = [];
    public List<TrainingRun> Runs { get; set; } = [];
    public List<ModelVersion> Versions { get; set; } = [];
    /// <summary>The Identity user who created the project; null for projects made before sign-in existed (administrators only).</summary>
    public string? OwnerId { get; set; }
    /// <summary>People besides the owner who may see the project (Builders may also train it; Viewers use its models).</summary>
    public List<ProjectMember> Members { get; set; } = [];
}

/// <summary>A prompt and the text a good continuation must contain.</summary>
public sealed class GoalTest
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    public required string Prompt { get; set; }
    public required string MustContain { get; set; }
}

public enum DataFileStatus { Waiting, Ready, Failed }

/// <summary>An uploaded document, stored under a generated name outside wwwroot.</summary>
public sealed class DataFile
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    /// <summary>The name the browser sent, kept as data only; show it through SafeFileName.ForDisplay.</summary>
    public required string OriginalName { get; set; }
    public required string StoredName { get; set; }
    /// <summary>What the content is (Core.Data.DocumentKind), from its bytes, not its name.</summary>
    public string Kind { get; set; } = "";
    public DataFileStatus Status { get; set; }
    /// <summary>Column mapping of a CSV/JSONL file in the engine's "text=body,label=category" form.</summary>
    public string? Mapping { get; set; }
    public long Bytes { get; set; }
    public long Characters { get; set; }
    public long EstimatedTokens { get; set; }
    public int Records { get; set; }
    /// <summary>Label -> count, when the file has labels.</summary>
    public string LabelCountsJson { get; set; } = "{}";
    /// <summary>Plain-English problem that keeps this file out of training; null when it is usable.</summary>
    public string? Problem { get; set; }
    /// <summary>Every DataProblem of the file (errors, rows left out, notes), as JSON.</summary>
    public string ProblemsJson { get; set; } = "[]";
    /// <summary>The first characters of the extracted text.</summary>
    public string Preview { get; set; } = "";
    public string Sha256 { get; set; } = "";
    public DateTimeOffset UploadedAt { get; set; }
    /// <summary>When the retention policy deleted the original and its extracted text (the frozen dataset versions
    /// keep what was made of them); null while they are kept.</summary>
    public DateTimeOffset? OriginalDeletedAt { get; set; }
}

/// <summary>
/// A frozen, immutable dataset version (Core.Data.DatasetVersion): its folder under the jobs root holds train.txt,
/// val.txt and dataset.json with the hashes. The row is the index the pages and lineage read.
/// </summary>
public sealed class DatasetVersionRecord
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    /// <summary>The engine's id: the first 16 hex digits of the content hash; also the folder name.</summary>
    public required string DatasetId { get; set; }
    public required string ContentSha256 { get; set; }
    /// <summary>Folder relative to the jobs root (datasets/&lt;id&gt;).</summary>
    public required string Folder { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string CreatedBy { get; set; } = "";
    public string Task { get; set; } = "";
    public int Sources { get; set; }
    public int Records { get; set; }
    public long Characters { get; set; }
    public long EstimatedTokens { get; set; }
    public int TrainRecords { get; set; }
    public int ValidationRecords { get; set; }
    public int ExactDuplicatesRemoved { get; set; }
    public int NearDuplicatesRemoved { get; set; }
    /// <summary>Kind -> number of values replaced.</summary>
    public string RedactionCountsJson { get; set; } = "{}";
    public string SettingsJson { get; set; } = "{}";
    /// <summary>The source files with their SHA-256 (Core.Data.DatasetSource list).</summary>
    public string SourcesJson { get; set; } = "[]";
}

/// <summary>One training run: its settings, its latest progress, and the lease that keeps it from running twice.</summary>
public sealed class TrainingRun
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    public Project? Project { get; set; }
    public RunStatus Status { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }
    public string CreatedBy { get; set; } = "";

    public string Preset { get; set; } = TrainingOptions.QuickStart.Preset;
    public int VocabSize { get; set; }
    public int? BaseVersionId { get; set; }
    /// <summary>The library name of the base model the run fine-tunes, when it starts from one.</summary>
    public string? BaseModelName { get; set; }
    public bool UseLora { get; set; }
    /// <summary>What the run trains, as <c>slm train --task</c> names it: "text", "classify" or "chat".</summary>
    public string Task { get; set; } = TrainingTasks.Text;
    public int? Minutes { get; set; }
    public int? MaxStepsSetting { get; set; }
    public int Seed { get; set; }
    public int? EvalEvery { get; set; }
    /// <summary>The frozen dataset version this run trains on.</summary>
    public int? DatasetVersionId { get; set; }
    public DatasetVersionRecord? DatasetVersion { get; set; }

    public string? HangfireJobId { get; set; }
    public bool CancelRequested { get; set; }
    public string? LeaseOwner { get; set; }
    public DateTimeOffset? LeaseExpiresAt { get; set; }
    public int Attempts { get; set; }

    public long? Parameters { get; set; }
    public string? Device { get; set; }
    public int Step { get; set; }
    public int MaxSteps { get; set; }
    public double? Loss { get; set; }
    public double? LearningRate { get; set; }
    public double? TokensPerSecond { get; set; }
    public double? EtaSeconds { get; set; }
    public double? ValLoss { get; set; }
    public double? Perplexity { get; set; }
    public double? BitsPerChar { get; set; }

    public int? ModelVersionId { get; set; }

    public bool IsActive => Status is RunStatus.Queued or RunStatus.Running or RunStatus.Interrupted or RunStatus.Trained or RunStatus.Exporting;
}

/// <summary>One JSON line the trainer printed, kept so pages opened later can draw the whole curve.</summary>
public sealed class RunEvent
{
    public long Id { get; set; }
    public int RunId { get; set; }
    public required string Kind { get; set; }
    public required string Json { get; set; }
    public DateTimeOffset At { get; set; }
}

/// <summary>An immutable, numbered model version in the registry.</summary>
public sealed class ModelVersion
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    public Project? Project { get; set; }
    public int Number { get; set; }
    public int RunId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string CreatedBy { get; set; } = "";
    /// <summary>Folder of the artifacts, relative to the models root.</summary>
    public required string Folder { get; set; }
    public string CodeVersion { get; set; } = "";
    /// <summary>The dataset version the run that made this model trained on.</summary>
    public int? DatasetVersionId { get; set; }
    public DatasetVersionRecord? DatasetVersion { get; set; }
    public string DataJson { get; set; } = "[]";
    public string SettingsJson { get; set; } = "{}";
    public double? ValLoss { get; set; }
    public double? Perplexity { get; set; }
    public double? BitsPerChar { get; set; }
    public long? Parameters { get; set; }
    public string? ParityResult { get; set; }
    /// <summary>File name -> SHA-256, the same list as manifest.json in the folder.</summary>
    public string ManifestJson { get; set; } = "{}";
    public string GoalResultsJson { get; set; } = "[]";
    public string SamplesJson { get; set; } = "[]";
}

/// <summary>A movable name (such as "production") that points at one version of a project.</summary>
public sealed class ModelAlias
{
    public int Id { get; set; }
    public int ProjectId { get; set; }
    public required string Name { get; set; }
    public int ModelVersionId { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Measured training speed of a preset on this machine, so the architecture step shows real figures.</summary>
public sealed class PresetBenchmark
{
    public int Id { get; set; }
    public required string Preset { get; set; }
    public int VocabSize { get; set; }
    public long Parameters { get; set; }
    public double TokensPerSecond { get; set; }
    public string Device { get; set; } = "";
    public string MachineName { get; set; } = "";
    public DateTimeOffset MeasuredAt { get; set; }
}
