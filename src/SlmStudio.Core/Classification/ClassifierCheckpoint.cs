using System.Text.Json;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Classification;

/// <summary>Where the label phase stands: everything besides tensors that a resumed run needs to continue from the same step.</summary>
public sealed record ClassifierCheckpointState(
    int Step, int MaxSteps, int BestStep, double BestMacroF1, double BestLoss, double LowestLoss, int SinceBest, long OptimizerStep,
    double ElapsedSeconds, double? BudgetSeconds, int[] Order, int Cursor);

/// <summary>
/// The label phase's checkpoint, one safetensors file as a text run's (<see cref="Checkpoint"/>): the trained weights
/// ("model.*": the whole classifier, or the head and adapters with LoRA), the best weights so far ("best.*"), the AdamW
/// moments ("adam.*") and <see cref="ClassifierCheckpointState"/> in the header's metadata. Written to a temporary
/// file and renamed, so a process killed mid-write leaves the previous checkpoint.
/// </summary>
public static class ClassifierCheckpoint
{
    public static void Save(string path, IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable, AdamW optimizer,
        IReadOnlyDictionary<string, Tensor>? best, ClassifierCheckpointState state)
    {
        var tensors = trainable.Select(p => NamedTensors.Of("model." + p.Name, p.Parameter))
            .Concat(best?.Select(b => NamedTensors.Of("best." + b.Key, b.Value)) ?? [])
            .Concat(optimizer.StateTensors().Select(s => NamedTensors.Of(s.Name, s.Tensor)))
            .ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(path, temp => SafetensorsFile.Write(temp, tensors, new Dictionary<string, string> { ["state"] = JsonSerializer.Serialize(state) }));
    }

    /// <summary>Loads the weights, the best weights (into <paramref name="best"/>) and the optimizer state; refuses a missing, damaged or foreign checkpoint by name.</summary>
    public static ClassifierCheckpointState Load(string path, IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable, AdamW optimizer,
        ref Dictionary<string, Tensor>? best, Device device)
    {
        if (!File.Exists(path)) throw new EngineException("There is no checkpoint of the label phase to resume from. Start the run again in a new run folder.");
        IReadOnlyDictionary<string, NamedTensor> tensors;
        IReadOnlyDictionary<string, string> metadata;
        try { (tensors, metadata) = SafetensorsFile.ReadWithMetadata(path); }
        catch (InvalidModelFileException e) { throw new EngineException($"The checkpoint of this run is damaged ({e.Message}) and cannot be resumed. Start the run again in a new run folder.", e); }
        const string noState = "The checkpoint of this run has no readable training state and cannot be resumed. Start the run again in a new run folder.";
        ClassifierCheckpointState? state;
        try { state = metadata.TryGetValue("state", out var json) ? JsonSerializer.Deserialize<ClassifierCheckpointState>(json) : null; }
        catch (JsonException e) { throw new EngineException($"{noState} ({e.Message})", e); }
        if (state?.Order is null) throw new EngineException(noState);

        Tensor Get(string name) => tensors.TryGetValue(name, out var t) ? tensor(t.Data, t.Shape, device: device)
            : throw new EngineException($"The checkpoint does not fit this run's model (it lacks '{name}'). Start the run again in a new run folder.");
        using (no_grad())
        {
            foreach (var (name, p) in trainable)
            {
                using var value = Get("model." + name);
                if (!value.shape.SequenceEqual(p.shape)) throw new EngineException($"The checkpoint does not fit this run's model (weight '{name}' has another shape). Start the run again in a new run folder.");
                p.copy_(value);
            }
            if (tensors.Keys.Any(n => n.StartsWith("best.", StringComparison.Ordinal)))
            {
                best = [];
                foreach (var (name, _) in trainable) best[name] = Get("best." + name).DetachFromDisposeScope();
            }
        }
        optimizer.LoadState(state.OptimizerStep, Get);
        return state;
    }
}
