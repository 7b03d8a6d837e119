using System.Text.Json;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>Where a run stands: everything besides tensors that a resumed run needs to continue exactly.</summary>
/// <param name="ResidualDropout">The dropout the steps ran with (<see cref="RepetitionDropout"/>); 0 in checkpoints from before it existed.</param>
/// <param name="WeightDecay">The weight decay the steps ran with (<see cref="RepetitionWeightDecay"/>); null in checkpoints from before it was planned.</param>
/// <param name="Optimizer">How the layers' matrices were updated (<see cref="Muon"/>); null in checkpoints from before Muon: AdamW.</param>
public sealed record CheckpointState(
    int Step, int MaxSteps, int WarmupSteps, double PeakLearningRate, long OptimizerStep, double BestValLoss,
    long TokensSeen, double ElapsedSeconds, long Seed, double ResidualDropout = 0, double? WeightDecay = null, MatrixOptimizer? Optimizer = null);

/// <summary>
/// One file, checkpoint/state.safetensors: model weights ("model.*"), AdamW moments ("adam.*") and the JSON state in
/// the header's metadata. Written to a temporary file and renamed, so a crash mid-write leaves the previous checkpoint.
/// A LoRA run saves only its adapters ("lora.*") and their moments: the frozen base is reloaded from the base model.
/// A run from scratch also saves its weight average ("average.*", <see cref="WeightAverage"/>).
/// </summary>
public static class Checkpoint
{
    public static void Save(RunFolder run, LlamaForCausalLM model, AdamW optimizer, CheckpointState state, LoraAdapters? adapters = null, WeightAverage? average = null)
    {
        var trained = adapters is null
            ? ModelFolder.ExportWeights(model).Select(t => t with { Name = "model." + t.Name })
            : adapters.Tensors().Select(t => t with { Name = "lora." + t.Name });
        var tensors = trained
            .Concat(optimizer.StateTensors().Select(s => NamedTensors.Of(s.Name, s.Tensor)))
            .Concat(average?.Tensors() ?? []);
        SafetensorsFile.Write(run.CheckpointFile, tensors, new Dictionary<string, string> { ["state"] = JsonSerializer.Serialize(state) });
    }

    public static CheckpointState Load(RunFolder run, LlamaForCausalLM model, AdamW optimizer, LoraAdapters? adapters = null, WeightAverage? average = null)
    {
        var path = run.CheckpointFile;
        if (!File.Exists(path)) throw new EngineException($"There is no checkpoint in '{run.Root}' to resume from. Start the run without --resume.");
        IReadOnlyDictionary<string, NamedTensor> tensors;
        IReadOnlyDictionary<string, string> metadata;
        try { (tensors, metadata) = SafetensorsFile.ReadWithMetadata(path); }
        catch (InvalidModelFileException e)
        {
            throw new EngineException($"The checkpoint of this run is damaged ({e.Message}) and cannot be resumed. Start a new run; the data and settings are unchanged.", e);
        }
        const string noState = "The checkpoint of this run has no readable training state and cannot be resumed. Start a new run.";
        if (!metadata.TryGetValue("state", out var json)) throw new EngineException(noState);
        CheckpointState? state;
        try { state = JsonSerializer.Deserialize<CheckpointState>(json); }
        catch (JsonException e) { throw new EngineException($"{noState} (The saved state is damaged: {e.Message})", e); }
        if (state is null) throw new EngineException(noState);

        var prefix = adapters is null ? "model." : "lora.";
        var weights = tensors.Where(t => t.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(t => t.Key[prefix.Length..], t => t.Value with { Name = t.Key[prefix.Length..] });
        try
        {
            if (adapters is null) ModelFolder.LoadWeights(model, weights, "the checkpoint");
            else adapters.Load(weights, "the checkpoint");
        }
        catch (UnsupportedModelException e) { throw new EngineException($"The checkpoint does not fit this run's model ({e.Message}). Start a new run.", e); }
        average?.Load(tensors);
        var device = model.parameters().First().device;
        optimizer.LoadState(state.OptimizerStep, name =>
            tensors.TryGetValue(name, out var t) ? tensor(t.Data, t.Shape, device: device)
            : throw new EngineException($"The checkpoint is missing optimizer state '{name}' and cannot be resumed. Start a new run."));
        return state;
    }
}
