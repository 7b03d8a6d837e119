using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Training;

/// <summary>
/// What the model learns from: where batches come from and how a batch's loss is computed. The trainer's loop knows
/// only this, so that other tasks (a classification head with loss on labels; instruction tuning with loss on answer
/// tokens only) are new objectives, not new loops.
/// </summary>
public interface ITrainingObjective : IDisposable
{
    /// <summary>
    /// The mean loss (a scalar tensor with its graph) of micro-batch <paramref name="micro"/> of
    /// <paramref name="step"/>. The batch depends only on the run's seed, the step and the micro-batch, so a resumed
    /// run sees exactly the batches an uninterrupted one would have.
    /// </summary>
    Tensor Loss(LlamaForCausalLM model, int step, int micro);

    /// <summary>Mean validation loss in nats per predicted item; reads the scalar, so call it only at evaluations.</summary>
    double ValidationLoss(LlamaForCausalLM model);

    /// <summary>Forward passes one validation takes: what the time budget sets aside for evaluations.</summary>
    int ValidationBatches { get; }
}

/// <summary>Causal language modelling: predict every next token of random windows of the training text.</summary>
public sealed class NextTokenObjective : ITrainingObjective
{
    /// <summary>Validation reads at most this many windows, evenly spaced, so that evaluation time stays bounded.</summary>
    public const int MaxValidationWindows = 64;

    private readonly TokenBin _train;
    private readonly TokenBin _validation;
    private readonly Batches _batches;
    private readonly IReadOnlyList<(long Start, int Length)> _windows;
    private readonly int _batchSize;

    public NextTokenObjective(RunFolder folder, RunSettings settings, Device device)
    {
        _train = TokenBin.Open(folder.TrainTokensFile, settings.Config.VocabSize);
        _validation = TokenBin.Open(folder.ValidationTokensFile, settings.Config.VocabSize);
        _batchSize = settings.BatchSize;
        _batches = new Batches(_train, settings.BatchSize, settings.ContextLength, settings.Options.Seed, device);
        _windows = DocumentStream.Windows(_validation.Count, settings.ContextLength, MaxValidationWindows);
    }

    public int ValidationBatches => (int)Math.Ceiling(_windows.Count / (double)_batchSize);

    public Tensor Loss(LlamaForCausalLM model, int step, int micro)
    {
        var (x, y) = _batches.Sample(step, micro);
        // bfloat16 steps: the loss straight from bfloat16 logits (log-softmax sums in float32 inside); a float32 copy of
        // the logits halved the speed of the tiny preset, for the same validation loss after 60 steps.
        var logits = model.forward(x);                                              // (B, T, V)
        return F.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1));
    }

    public double ValidationLoss(LlamaForCausalLM model) => Evaluation.MeanLoss(model, _validation, _windows, _batchSize);

    public void Dispose()
    {
        _train.Dispose();
        _validation.Dispose();
    }
}
