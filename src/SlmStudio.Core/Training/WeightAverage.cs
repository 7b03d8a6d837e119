using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>
/// An exponential moving average of the weights (Polyak averaging): what a run from scratch evaluates and saves as its
/// model, while its steps go on from the weights themselves. With the learning rate still above zero the last steps'
/// weights jitter around the floor of a valley; their average sits nearer its middle. Measured in one run (both
/// evaluated at every evaluation): 1,300 tiny-preset steps on 1 MB of the Jargon File, validation 2.0073 bits per
/// character averaged against 2.0145 (2.0138 against 2.0252 at step 1,100). The decay rises as (1 + step) / (10 + step)
/// up to <see cref="Decay"/>, so that early evaluations are not held back by the random start. A checkpoint keeps the
/// average ("average.*"), so a resumed run goes on with it.
/// </summary>
public sealed class WeightAverage : IDisposable
{
    public const double Decay = 0.99;
    public const string CheckpointPrefix = "average.";

    private readonly (string Name, Tensor Weight, Tensor Average)[] _pairs;

    public WeightAverage(LlamaForCausalLM model)
    {
        using var _ = no_grad();
        _pairs = [.. model.named_parameters().Select(p => (p.name, (Tensor)p.parameter, p.parameter.detach().clone().DetachFromDisposeScope()))];
    }

    /// <summary>The share of the average kept at each update once <paramref name="step"/> steps are done.</summary>
    public static double DecayAt(int step) => Math.Min(Decay, (1.0 + step) / (10.0 + step));

    /// <summary>Moves the average toward the weights, after the optimizer's <paramref name="step"/>-th update.</summary>
    public void Update(int step)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var toward = 1 - DecayAt(step);
        foreach (var (_, weight, average) in _pairs) average.lerp_(weight, toward);
    }

    /// <summary>The averaged weights in the model until the result is disposed; then the model's own weights again.</summary>
    public IDisposable Applied()
    {
        using var _ = no_grad();
        var kept = _pairs.Select(p => p.Weight.detach().clone().DetachFromDisposeScope()).ToArray();
        foreach (var (_, weight, average) in _pairs) weight.detach().copy_(average);
        return new Restore(this, kept);
    }

    /// <summary>The average's tensors for a checkpoint.</summary>
    public IEnumerable<NamedTensor> Tensors() => _pairs.Select(p => NamedTensors.Of(CheckpointPrefix + p.Name, p.Average));

    /// <summary>Takes the average from a checkpoint; one saved before averaging existed starts it at the loaded weights.</summary>
    public void Load(IReadOnlyDictionary<string, NamedTensor> tensors)
    {
        using var _ = no_grad();
        foreach (var (name, weight, average) in _pairs)
        {
            if (tensors.TryGetValue(CheckpointPrefix + name, out var saved))
            {
                using var loaded = tensor(saved.Data, saved.Shape, device: average.device);
                average.copy_(loaded);
            }
            else average.copy_(weight);
        }
    }

    public void Dispose()
    {
        foreach (var (_, _, average) in _pairs) average.Dispose();
    }

    private sealed class Restore(WeightAverage owner, Tensor[] kept) : IDisposable
    {
        public void Dispose()
        {
            using (no_grad())
                for (int i = 0; i < kept.Length; i++) owner._pairs[i].Weight.detach().copy_(kept[i]);
            foreach (var t in kept) t.Dispose();
        }
    }
}
