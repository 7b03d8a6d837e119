using System.Text.Json;
using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Instruction;

/// <summary>
/// Instruction tuning: next-token loss on the answer tokens only; question, system text and template tokens are
/// targets of <see cref="IgnoreIndex"/> and contribute nothing. One conversation per row, padded at the end to the
/// longest row of the batch: the model's attention is causal and has no per-example mask, so packing several
/// conversations into one row would let one attend to another; right padding after the last real token cannot be
/// seen by any real token. The data is a folder written by <see cref="Write"/> (train.jsonl, validation.jsonl).
/// </summary>
public sealed class InstructionObjective : ITrainingObjective
{
    /// <summary>PyTorch's ignore_index: cross-entropy skips these targets.</summary>
    public const long IgnoreIndex = -100;
    public const string TrainFile = "train.jsonl";
    public const string ValidationFile = "validation.jsonl";
    /// <summary>Validation reads at most this many conversations, so that evaluation time stays bounded.</summary>
    public const int MaxValidationConversations = 256;

    private readonly IReadOnlyList<TokenizedConversation> _train;
    private readonly IReadOnlyList<TokenizedConversation> _validation;
    private readonly int _batchSize;
    private readonly long _seed;
    private readonly long _padId;
    private readonly Device _device;
    private readonly int _microBatches;
    private (long Pass, int[] Order) _shuffled = (-1, []);

    public InstructionObjective(string dataFolder, RunSettings settings, Device device)
        : this(Read(Path.Combine(dataFolder, TrainFile)), Read(Path.Combine(dataFolder, ValidationFile)), settings.BatchSize, settings.Options.Seed,
            settings.Config.PadTokenId ?? settings.Config.EosTokenId ?? 0, device, settings.Options.GradientAccumulation)
    {
    }

    public InstructionObjective(IReadOnlyList<TokenizedConversation> train, IReadOnlyList<TokenizedConversation> validation, int batchSize, long seed, long padId, Device device, int microBatches = 1)
    {
        _microBatches = microBatches;
        if (train.Count == 0) throw new EngineException("There are no question and answer pairs to train on.");
        _train = train;
        _validation = [.. validation.Take(MaxValidationConversations)];
        _batchSize = batchSize;
        _seed = seed;
        _padId = padId;
        _device = device;
    }

    public int ValidationBatches => (int)Math.Ceiling(_validation.Count / (double)_batchSize);

    /// <summary>The conversations of micro-batch <paramref name="micro"/> of <paramref name="step"/>: a fresh shuffle of the
    /// training set per pass, fixed by the seed, so every conversation is seen once per pass and a resumed run sees the same.</summary>
    public IReadOnlyList<TokenizedConversation> BatchAt(int step, int micro)
    {
        var n = _train.Count;
        var first = ((long)step * _microBatches + micro) * _batchSize;
        var batch = new List<TokenizedConversation>(_batchSize);
        for (long k = first; k < first + _batchSize; k++)
        {
            var pass = k / n;
            if (_shuffled.Pass != pass) _shuffled = (pass, Shuffle(n, _seed + pass * 7919));
            batch.Add(_train[_shuffled.Order[(int)(k % n)]]);
        }
        return batch;
    }

    public Tensor Loss(LlamaForCausalLM model, int step, int micro)
    {
        var (x, y) = ToTensors(BatchAt(step, micro));
        var logits = model.forward(x);
        return F.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1), ignore_index: IgnoreIndex);
    }

    /// <summary>The mean loss of <paramref name="batch"/> (answer tokens only), as training computes it.</summary>
    public Tensor LossOf(LlamaForCausalLM model, IReadOnlyList<TokenizedConversation> batch)
    {
        var (x, y) = ToTensors(batch);
        var logits = model.forward(x);
        return F.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1), ignore_index: IgnoreIndex);
    }

    public double ValidationLoss(LlamaForCausalLM model)
    {
        if (_validation.Count == 0) return double.NaN;
        var wasTraining = model.training;
        model.eval();
        double nats = 0;
        long predicted = 0;
        try
        {
            using var _ = no_grad();
            foreach (var chunk in _validation.Chunk(_batchSize))
            {
                using var scope = NewDisposeScope();
                var (x, y) = ToTensors(chunk);
                var logits = model.forward(x);
                nats += F.cross_entropy(logits.view(-1, logits.shape[^1]), y.view(-1), ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum).item<float>();
                predicted += y.ne(IgnoreIndex).sum().item<long>();
            }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return nats / Math.Max(1, predicted);
    }

    /// <summary>Inputs (ids without the last) and targets (ids without the first; <see cref="IgnoreIndex"/> where the
    /// token is not an answer token or is padding), right-padded to the longest conversation of the batch.</summary>
    public (Tensor Inputs, Tensor Targets) ToTensors(IReadOnlyList<TokenizedConversation> batch)
    {
        var width = batch.Max(c => c.Ids.Length) - 1;
        var inputs = new long[batch.Count * width];
        var targets = new long[batch.Count * width];
        Array.Fill(inputs, _padId);
        Array.Fill(targets, IgnoreIndex);
        for (int b = 0; b < batch.Count; b++)
        {
            var c = batch[b];
            for (int t = 0; t + 1 < c.Ids.Length; t++)
            {
                inputs[b * width + t] = c.Ids[t];
                if (c.IsAnswer[t + 1]) targets[b * width + t] = c.Ids[t + 1];
            }
        }
        return (tensor(inputs, [batch.Count, width], device: _device), tensor(targets, [batch.Count, width], device: _device));
    }

    public void Dispose()
    {
    }

    private static int[] Shuffle(int n, long seed)
    {
        var order = Enumerable.Range(0, n).ToArray();
        new Random(unchecked((int)(seed ^ (seed >> 32)))).Shuffle(order);
        return order;
    }

    private sealed record Line(int[] Ids, string Answer);

    /// <summary>Writes tokenized conversations as JSON lines: ids and, per token, '1' for an answer token and '0' otherwise.</summary>
    public static void Write(string path, IEnumerable<TokenizedConversation> conversations)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllText(path, string.Concat(conversations.Select(c =>
            JsonSerializer.Serialize(new Line(c.Ids, new string([.. c.IsAnswer.Select(a => a ? '1' : '0')])), TrainingEvent.Json) + "\n")));
    }

    public static IReadOnlyList<TokenizedConversation> Read(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"The tokenized questions and answers ({path}) are missing; start the run again in a new run folder.");
        var result = new List<TokenizedConversation>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            var l = JsonSerializer.Deserialize<Line>(line, TrainingEvent.Json)!;
            result.Add(new TokenizedConversation(l.Ids, [.. l.Answer.Select(ch => ch == '1')]));
        }
        return result;
    }
}
