using Hangfire.Client;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Options;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Jobs;

/// <summary>Section "Studio:Queues": which trainings need a GPU, and whether this worker has one.</summary>
public sealed class QueueOptions
{
    public const string Section = "Studio:Queues";

    /// <summary>Presets (comma-separated, e.g. "medium,large") whose training waits for a worker with a GPU. Empty (the
    /// default): every training runs on any worker. Set it only when at least one worker has a GPU, or those runs wait.</summary>
    public string GpuPresets { get; set; } = "";

    /// <summary>Auto: this worker takes GPU training when TorchSharp finds a CUDA device here. Yes/No override that.</summary>
    public GpuWorker Gpu { get; set; } = GpuWorker.Auto;

    public IReadOnlyCollection<string> GpuPresetNames =>
        GpuPresets.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

public enum GpuWorker { Auto, Yes, No }

/// <summary>
/// Training goes to the "gpu" or "cpu" Hangfire queue; every worker listens on "cpu", a worker with a GPU on "gpu" first.
/// Export, registration and data extraction stay on "default", which every worker serves.
/// </summary>
public sealed class TrainingQueues(IOptions<QueueOptions> options, ILogger<TrainingQueues> logger)
{
    public const string Cpu = "cpu";
    public const string Gpu = "gpu";
    /// <summary>Where training was queued before the capability queues; still served so that nothing queued by an
    /// earlier version waits forever.</summary>
    public const string Legacy = "training";

    private readonly Lazy<bool> _hasGpu = new(() => options.Value.Gpu switch
    {
        GpuWorker.Yes => true,
        GpuWorker.No => false,
        _ => DetectCuda(logger),
    });

    public string ForRun(TrainingRun run) =>
        options.Value.GpuPresetNames.Contains(run.Preset, StringComparer.OrdinalIgnoreCase) ? Gpu : Cpu;

    /// <summary>The queues this process's training server listens on, most specific first (Hangfire.PostgreSql fetches in
    /// this order).</summary>
    public string[] ForThisWorker() => _hasGpu.Value ? [Gpu, Cpu, Legacy] : [Cpu, Legacy];

    public bool HasGpu => _hasGpu.Value;

    private static bool DetectCuda(ILogger logger)
    {
        // Without NVIDIA's driver there is no CUDA device: the portal need not load TorchSharp's native library to know.
        if (OperatingSystem.IsLinux() && !File.Exists("/proc/driver/nvidia/version") && !File.Exists("/dev/nvidia0")) return false;
        try { return TorchSharp.torch.cuda.is_available(); }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            logger.LogWarning(e, "Could not ask TorchSharp for a GPU; this worker takes CPU training only");
            return false;
        }
    }
}

/// <summary>
/// Keeps a training job on the queue it was created for. The scheduler creates it in an EnqueuedState on "cpu" or
/// "gpu"; this filter notes that queue as a job parameter, and when the job is enqueued again without one (a requeue
/// from the dashboard lands on "default"), puts it back on its own queue, so GPU training never reaches a CPU worker.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class TrainingQueueAttribute : JobFilterAttribute, IClientFilter, IElectStateFilter
{
    public const string Parameter = "TrainingQueue";

    public void OnCreating(CreatingContext context)
    {
        if (context.InitialState is EnqueuedState enqueued && enqueued.Queue != EnqueuedState.DefaultQueue)
            context.SetJobParameter(Parameter, enqueued.Queue);
    }

    public void OnCreated(CreatedContext context) { }

    public void OnStateElection(ElectStateContext context)
    {
        if (context.CandidateState is not EnqueuedState enqueued || enqueued.Queue != EnqueuedState.DefaultQueue) return;
        enqueued.Queue = context.GetJobParameter<string>(Parameter) ?? TrainingQueues.Cpu;
    }
}
