using SlmStudio.Core.Models;
using SlmStudio.Core.Training;

namespace SlmStudio.Web.Services;

/// <summary>
/// What fine-tuning a library base model will cost on this machine, shown before a run starts: the expected peak
/// memory (<see cref="FineTuneEstimate"/>, calibrated on measured runs), the time per 1,000 training examples from this
/// machine's measured training speed, and, when the run cannot fit in memory, why and what to do instead.
/// </summary>
/// <param name="SecondsPerThousandExamples">Null until this machine's training speed has been measured (the architecture step measures it).</param>
/// <param name="SlowerWhenBusy">The same time at the share of the processor the run gets now that the machine is busy; null when it is quiet.</param>
public sealed record FineTunePlan(string ModelName, bool Lora, long PeakBytes, long AvailableBytes, int ExampleTokens,
    double? SecondsPerThousandExamples, double? SlowerWhenBusy, string? Refusal)
{
    public bool Fits => Refusal is null;
}

public sealed class FineTunePlanner(BaseModelCatalog catalog, PresetBenchmarks benchmarks, MachineLoadProbe machine)
{
    /// <summary>Memory a run may use; tests set a small machine.</summary>
    public Func<long> AvailableMemory { get; set; } = FineTuneEstimate.AvailableMemoryBytes;

    /// <summary>Null when the library has no such model.</summary>
    public async Task<FineTunePlan?> PlanAsync(string baseModelName, bool lora, CancellationToken ct = default)
    {
        if (catalog.Library.Get(baseModelName) is null) return null;
        var config = LlamaConfig.Load(Path.Combine(catalog.Library.PathOf(baseModelName), ModelFolder.ConfigFile));
        var estimate = FineTuneEstimate.ForBaseModelRun(config, lora);
        var available = AvailableMemory();
        var refusal = estimate.RefusalFor(baseModelName, lora, available, lora ? null : FineTuneEstimate.ForBaseModelRun(config, lora: true));
        var context = Math.Min(config.MaxPositions, FineTuneEstimate.BaseModelRunContext);
        double? seconds = null, busy = null;
        if (await benchmarks.MachineFlopsAsync(ct) is { } flops && flops > 0)
        {
            var tokensPerSecond = flops / estimate.FlopsPerToken(config, lora);
            seconds = 1000.0 * context / tokensPerSecond;
            var load = machine.Now();
            if (load.Busy) busy = seconds / load.ShareForNewWork;
        }
        return new FineTunePlan(baseModelName, lora, estimate.PeakBytes, available, context, seconds, busy, refusal);
    }
}
