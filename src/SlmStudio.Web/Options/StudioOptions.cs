using System.ComponentModel.DataAnnotations;

namespace SlmStudio.Web.Options;

public enum StudioRole { Both, Web, Worker }

/// <summary>Where the portal keeps its files and how it runs. Section "Studio"; relative paths are under the content root.</summary>
public sealed class StudioOptions
{
    public const string Section = "Studio";

    /// <summary>Both = web pages and background worker in one process (the default).</summary>
    public StudioRole Role { get; set; } = StudioRole.Both;

    [Required] public string JobsPath { get; set; } = "jobs";
    [Required] public string ModelsPath { get; set; } = "models";
    /// <summary>The base model library: Hugging Face folders an administrator imported or placed here (scanned at start).</summary>
    [Required] public string BaseModelsPath { get; set; } = "models/base";
    /// <summary>Largest base model zip the portal accepts as an upload.</summary>
    [Range(1, 1_000_000)] public int MaxBaseModelUploadMegabytes { get; set; } = 20_000;
    [Required] public string DatabasePath { get; set; } = "data/studio.db";
    [Required] public string HangfireDatabasePath { get; set; } = "data/hangfire.db";

    /// <summary>Largest single upload accepted.</summary>
    [Range(1, 10_000)] public int MaxUploadMegabytes { get; set; } = 50;

    /// <summary>File types the data step accepts (comma-separated extensions; the engine's own allowlist still applies).</summary>
    [Required] public string UploadExtensions { get; set; } = ".txt,.md,.pdf,.docx,.csv,.jsonl,.html,.htm";

    /// <summary>How large a DOCX (a zip) may become when unpacked.</summary>
    [Range(1, 100_000)] public int MaxUncompressedMegabytes { get; set; } = 300;

    /// <summary>Time and memory one PDF, DOCX or HTML file may take to read, in its own process.</summary>
    [Range(1, 3600)] public int ParseTimeoutSeconds { get; set; } = 60;
    [Range(64, 100_000)] public int ParseMemoryMegabytes { get; set; } = 1024;

    /// <summary>Less text than this cannot train a useful model; the data step says so.</summary>
    [Range(1, int.MaxValue)] public int MinimumTrainingCharacters { get; set; } = 20_000;

    /// <summary>Path of slm.dll; empty = the one beside the portal's own assembly.</summary>
    public string? SlmPath { get; set; }

    /// <summary>How many training runs may run at once in this process.</summary>
    [Range(1, 64)] public int TrainingWorkers { get; set; } = 1;

    /// <summary>A running job renews its lease this often.</summary>
    [Range(1, 3600)] public int HeartbeatSeconds { get; set; } = 10;

    /// <summary>A lease not renewed for this long belongs to a dead worker: the sweep resumes or fails its run.</summary>
    [Range(5, 86_400)] public int LeaseTimeoutSeconds { get; set; } = 60;

    /// <summary>Training steps measured per preset when the architecture step benchmarks this machine.</summary>
    [Range(1, 100)] public int BenchmarkSteps { get; set; } = 3;

    /// <summary>Generations one model runs at once (playground and API together); more wait in its queue.</summary>
    [Range(1, 1024)] public int MaxConcurrentGenerationsPerModel { get; set; } = 4;

    /// <summary>Requests that may wait for a model beyond those running; one more is refused with "busy" (HTTP 429).</summary>
    [Range(0, 100_000)] public int GenerationQueueLength { get; set; } = 32;

    /// <summary>How long a request waits in a model's queue before it is given up (HTTP 503).</summary>
    [Range(1, 3600)] public int GenerationQueueSeconds { get; set; } = 60;

    public bool RunsWeb => Role is StudioRole.Both or StudioRole.Web;
    public bool RunsWorker => Role is StudioRole.Both or StudioRole.Worker;
}
