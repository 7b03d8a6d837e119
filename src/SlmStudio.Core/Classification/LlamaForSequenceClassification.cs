using System.Text.Json;
using System.Text.Json.Serialization;
using SlmStudio.Core.Models;
using SlmStudio.Core.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SlmStudio.Core.Classification;

#pragma warning disable IDE1006 // field names are the checkpoint's parameter names

/// <summary>How the hidden states of a text become one vector for the head.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ClassifierPooling>))]
public enum ClassifierPooling
{
    /// <summary>
    /// The average over the text's tokens. The default: every token's state gets gradient from the label, so a backbone
    /// trained from scratch in minutes learns faster and steadier than through one position, and a text's last token
    /// (often "?" or "thanks") carries no special weight.
    /// </summary>
    Mean,

    /// <summary>The last token's state, as Hugging Face's LlamaForSequenceClassification does: the only position that has read the whole text. Use it for checkpoints trained that way.</summary>
    LastToken,
}

/// <summary>
/// The Llama backbone with a classification head: hidden states (after the final norm) pooled over the text, then
/// <c>score</c>, a bias-free linear layer to one logit per label. Parameter names are Hugging Face's
/// (<c>model.*</c>, <c>score.weight</c>), so the backbone of a causal LM checkpoint loads unchanged.
/// <para>
/// Optionally, word scores beside the backbone (<see cref="PairBuckets"/> above 0): a score per label for every token
/// (<c>token_scores</c>) and for every hashed pair of neighbouring tokens (<c>pair_scores</c>), averaged over the text
/// and added to the head's logits. See <see cref="TokenPairs"/> for why.
/// </para>
/// <para>
/// Batches must be padded on the right (ids then padding), with <c>attention_mask</c> 1 on text and 0 on padding. The
/// backbone's attention is causal, so a text's tokens never see the padding after them: the pooled vector of a padded
/// text equals that of the same text alone, without a padding mask inside attention.
/// </para>
/// </summary>
public sealed class LlamaForSequenceClassification : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LlamaModel model;
    private readonly Linear score;
    private readonly Embedding? token_scores;    // (vocab, labels)
    private readonly Embedding? pair_scores;     // (pair buckets, labels)
    private readonly Parameter? spelling_scores; // (spelling buckets, labels), training only: folded into token_scores on saving
    private readonly Tensor? spelling_index;     // (vocab, width): the buckets of each token's letter groups
    private readonly Tensor? spelling_mask;      // (vocab, width): 1 where a token has a letter group, 0 after its last

    public LlamaConfig Config { get; }
    public IReadOnlyList<string> Labels { get; }
    public ClassifierPooling Pooling { get; }

    /// <summary>
    /// How many buckets the hashed pairs of neighbouring tokens fall into; 0: the classifier has no word scores, only the
    /// backbone and its head. See <see cref="TokenPairs"/>.
    /// </summary>
    public int PairBuckets { get; }

    /// <summary>
    /// With word scores: the head's logits pass through <c>bound × tanh(logit / bound)</c>, so the backbone can move
    /// each label's score by at most this much (0: unbounded). Trained together, an unbounded backbone learns the
    /// training texts' fixed phrasings so surely that it outvotes the word scores on texts worded differently: on the
    /// intent benchmark's test messages the word scores alone got 83%, with an unbounded backbone 75–77%, bounded at 1
    /// about 80%, bounded at 0.5 about 82% (bench/ClassifierAblation); over four data seeds 0.25 did a point better than 0.5
    /// (<see cref="ClassificationRunOptions.ScratchBackboneBound"/>). Bounded, the backbone still decides where the words
    /// leave labels close.
    /// </summary>
    public double BackboneBound { get; }

    /// <summary>
    /// The logits are divided by this before the softmax (1: as trained). Fitted on the validation texts after training
    /// (<see cref="ClassifierTrainer.FitTemperature"/>), so that "90% sure" means right about 90% of the time: regularised
    /// word scores and a bounded backbone leave the trained model far less sure than it is right.
    /// </summary>
    public double Temperature { get; set; } = 1;

    /// <summary>Dropout on the pooled vector while training (none in evaluation or export): the head cannot rely on a few directions.</summary>
    public double HeadDropout { get; set; }

    /// <param name="pairBuckets">Above 0: word scores beside the backbone (<see cref="TokenPairs"/>), pairs hashed into this many buckets.</param>
    /// <param name="spelling">With word scores, while training: scores for the letter groups of each token as well (<see cref="TokenSpelling"/>).</param>
    /// <param name="backboneBound">Above 0: the most the backbone may move a label's score (<see cref="BackboneBound"/>).</param>
    public LlamaForSequenceClassification(LlamaConfig config, IReadOnlyList<string> labels, ClassifierPooling pooling = ClassifierPooling.Mean, int pairBuckets = 0, TokenSpelling? spelling = null,
        double backboneBound = 0)
        : base(nameof(LlamaForSequenceClassification))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pairBuckets);
        ArgumentOutOfRangeException.ThrowIfNegative(backboneBound);
        BackboneBound = backboneBound;
        if (spelling is not null && (pairBuckets == 0 || spelling.VocabSize != config.VocabSize))
            throw new ArgumentException("Spelling scores belong to word scores (pair buckets above 0) of a tokenizer with the model's vocabulary.", nameof(spelling));
        config.Validate();
        if (labels.Count < 2) throw new ArgumentException("A classifier needs at least two labels.", nameof(labels));
        if (labels.Distinct(StringComparer.Ordinal).Count() != labels.Count) throw new ArgumentException("Labels must be distinct.", nameof(labels));
        Config = config;
        Labels = [.. labels];
        Pooling = pooling;
        model = new LlamaModel(config);
        score = nn.Linear(config.HiddenSize, labels.Count, hasBias: false);
        PairBuckets = pairBuckets;
        if (pairBuckets > 0)
        {
            token_scores = nn.Embedding(config.VocabSize, labels.Count);
            pair_scores = nn.Embedding(pairBuckets, labels.Count);
        }
        if (spelling is not null)
        {
            spelling_scores = new Parameter(zeros(spelling.Buckets, labels.Count));
            spelling_index = tensor(spelling.Index, [spelling.VocabSize, spelling.Width]);
            spelling_mask = tensor(spelling.Mask, [spelling.VocabSize, spelling.Width]);
        }
        RegisterComponents();
    }

    /// <summary>Logits (B, labels) for right-padded ids (B, T) and their attention mask (B, T) of 1 (text) and 0 (padding).</summary>
    public override Tensor forward(Tensor ids, Tensor attentionMask)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Forward(ids, null);                                       // (B, T, C)
        var mask = attentionMask.to(ScalarType.Float32);                             // (B, T)
        Tensor pooled;
        if (Pooling == ClassifierPooling.Mean)
        {
            var count = mask.sum(1, keepdim: true).clamp_min(1);                     // (B, 1)
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / count;                   // (B, C)
        }
        else
        {
            var last = (attentionMask.to(ScalarType.Int64).sum(1) - 1).clamp_min(0); // (B)
            var index = last.view(-1, 1, 1).expand(-1, 1, hidden.shape[2]);          // (B, 1, C)
            pooled = hidden.gather(1, index).squeeze(1);                             // (B, C)
        }
        if (training && HeadDropout > 0) pooled = nn.functional.dropout(pooled, HeadDropout, training: true);
        var logits = score.forward(pooled);                                          // (B, labels)
        if (BackboneBound > 0) logits = (logits / BackboneBound).tanh() * BackboneBound;
        if (token_scores is not null && pair_scores is not null)
        {
            var count = mask.sum(1, keepdim: true).clamp_min(1);                     // (B, 1)
            var perToken = spelling_scores is null ? token_scores.forward(ids) : TokenScoreTable()[ids]; // (B, T, labels)
            logits = logits + (perToken * mask.unsqueeze(-1)).sum(1) / count;
            var length = ids.shape[1];
            if (length > 1)
            {
                var pairs = TokenPairs.Bucket(ids[.., ..(int)(length - 1)], ids[.., 1..], PairBuckets); // (B, T-1)
                var pairMask = mask[.., 1..];                                        // right padding: a pair is text when its second token is
                var pairCount = pairMask.sum(1, keepdim: true).clamp_min(1);         // (B, 1)
                logits = logits + (pair_scores.forward(pairs) * pairMask.unsqueeze(-1)).sum(1) / pairCount;
            }
        }
        if (Temperature != 1) logits = logits / Temperature;
        return logits.MoveToOuterDisposeScope();                                     // (B, labels)
    }

    /// <summary>Probabilities (B, labels), without gradients.</summary>
    public Tensor Probabilities(Tensor ids, Tensor attentionMask)
    {
        using var _ = no_grad();
        using var logits = forward(ids, attentionMask);
        return logits.softmax(-1);
    }

    /// <summary>Whether a parameter belongs to the word scores (they learn faster and are held small, see <see cref="ClassifierTrainingOptions.WordScoreL2"/>).</summary>
    public static bool IsWordScore(string parameterName) =>
        parameterName.StartsWith("token_scores.", StringComparison.Ordinal) || parameterName.StartsWith("pair_scores.", StringComparison.Ordinal) || parameterName == "spelling_scores";

    /// <summary>The sum of the squares of all word scores (the L2 penalty before its factor); null without word scores.</summary>
    public Tensor? WordScoreSquares() =>
        token_scores is null ? null
        : named_parameters().Where(p => IsWordScore(p.name)).Select(p => p.parameter.square().sum()).Aggregate((a, b) => a + b);

    /// <summary>Each token's score (vocab, labels): its own plus, while training with spelling, the sum of its letter groups' scores.</summary>
    private Tensor TokenScoreTable() =>
        spelling_scores is null || spelling_index is null || spelling_mask is null ? token_scores!.weight!
        : token_scores!.weight! + (spelling_scores[spelling_index] * spelling_mask.unsqueeze(-1)).sum(1); // (vocab, width, labels) summed

    /// <summary>
    /// Initialisation as <see cref="LlamaForCausalLM.InitializeWeights"/> (N(0, 0.02), residual projections scaled) for the
    /// backbone; the head N(0, 0.02); word scores 0.
    /// </summary>
    public void InitializeWeights(long seed)
    {
        manual_seed(seed);
        using var _ = no_grad();
        var residualStd = 0.02 / Math.Sqrt(2.0 * Config.NumLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (IsWordScore(name)) p.zero_(); // no word favours a label before training
            else if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal))
                nn.init.normal_(p, 0, residualStd);
            else nn.init.normal_(p, 0, 0.02);
        }
    }

    /// <summary>Copies the backbone (every <c>model.*</c> weight) of a causal language model, such as the one from the language phase.</summary>
    public void LoadBackbone(LlamaForCausalLM languageModel)
    {
        var source = languageModel.named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)))
        {
            if (!source.TryGetValue(name, out var s) || !s.shape.SequenceEqual(p.shape))
                throw new UnsupportedModelException($"The language model does not match this classifier's backbone: weight '{name}' is missing or has another shape.");
            p.copy_(s);
        }
    }

    /// <summary>Copies the backbone of this classifier into a causal language model (for a language phase after, or for its export).</summary>
    public void CopyBackboneTo(LlamaForCausalLM languageModel)
    {
        var target = languageModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters().Where(p => p.name.StartsWith("model.", StringComparison.Ordinal)))
            target[name].copy_(p);
    }

    /// <summary>The weights as saved: spelling scores are added into each token's score, so the saved classifier (and its ONNX graph) needs no spelling.</summary>
    public IEnumerable<NamedTensor> ExportWeights()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return named_parameters().Where(p => p.name != "spelling_scores").Select(p =>
        {
            var value = p.name == "token_scores.weight" ? TokenScoreTable() : p.parameter;
            var cpu = value.detach().cpu().contiguous();
            return new NamedTensor(p.name, p.parameter.shape, cpu.data<float>().ToArray());
        }).ToList();
    }

    /// <summary>Copies named tensors in, refusing missing or wrongly shaped weights by name.</summary>
    public void LoadWeights(IReadOnlyDictionary<string, NamedTensor> tensors, string source)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters().Where(p => p.name != "spelling_scores"))
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new UnsupportedModelException($"{source} does not hold the classifier weight '{name}'.");
            if (!t.Shape.SequenceEqual(p.shape))
                throw new UnsupportedModelException($"{source}: weight '{name}' has shape [{string.Join(", ", t.Shape)}] but the classifier expects [{string.Join(", ", p.shape)}].");
            using var value = tensor(t.Data, t.Shape);
            p.copy_(value);
        }
    }
}

/// <summary>
/// Word scores: what a keyword model knows, inside the neural classifier. A backbone trained from scratch on a few
/// thousand short texts learns their fixed phrasings well and a new way of asking badly, while a linear model on words
/// and word pairs keeps working as long as the telling words appear (on the intent benchmark the keyword model beat the
/// backbone alone on texts worded unlike any training text). With a score per label for each token and each pair of
/// neighbouring tokens, trained together with the backbone, the classifier has both: the words, and the backbone for
/// what depends on the whole sentence. Pairs are hashed into a fixed number of buckets, the same way here and in the
/// ONNX graph, so the table's size does not grow with the vocabulary squared.
/// </summary>
public static class TokenPairs
{
    /// <summary>The buckets a classifier from scratch gets: a prime (so the hash spreads), 2.4 million scores for 36 labels.</summary>
    public const int DefaultBuckets = 65_521;

    /// <summary>Multipliers of the pair hash: (first × FirstMultiplier + second × SecondMultiplier) mod buckets. Ids stay far from overflow.</summary>
    public const long FirstMultiplier = 1_000_003, SecondMultiplier = 7_919;

    /// <summary>The bucket of each pair (first[i], second[i]), int64 tensors of the same shape.</summary>
    public static Tensor Bucket(Tensor first, Tensor second, int buckets) =>
        (first * FirstMultiplier + second * SecondMultiplier).remainder(buckets);
}

/// <summary>
/// The letter groups of each token, for word scores that carry over between tokens spelled alike: "delivery",
/// "delivered" and a misspelt "delviery" cut into other pieces share groups such as "del" and "ery", so what the
/// classifier learns from one helps with the others. A keyword model gets the same from character n-grams; on the
/// intent benchmark, scores of letter groups lifted a words-only classifier from 74.5% to 83.3% of its test messages
/// (with <see cref="ClassifierTrainingOptions.WordScoreL2"/>; <c>bench/ClassifierAblation words [--no-spelling]</c>).
/// <para>
/// Each token (its text, lower-cased) gets every group of 3 and 4 letters and itself whole, hashed into
/// <see cref="Buckets"/>. A token's score is then its own plus the sum of its groups' scores. The groups exist only
/// while training: on saving they are added into the token scores, which is the same function of the token id.
/// </para>
/// </summary>
public sealed record TokenSpelling(long[] Index, float[] Mask, int VocabSize, int Width, int Buckets)
{
    public const int DefaultBuckets = 1 << 16;

    /// <param name="vocabSize">The model's vocabulary, when larger than the tokenizer's (ids past the tokenizer's get no groups).</param>
    public static TokenSpelling Of(ITokenizer tokenizer, int buckets = DefaultBuckets, int? vocabSize = null)
    {
        var groups = new List<long>[Math.Max(vocabSize ?? 0, tokenizer.VocabSize)];
        for (int id = 0; id < groups.Length; id++)
        {
            var text = id < tokenizer.VocabSize ? tokenizer.Decode([id], skipSpecialTokens: true).ToLowerInvariant() : "";
            var list = new List<long>();
            if (text.Length > 0)
            {
                list.Add(Bucket("whole:" + text, buckets));
                for (int n = 3; n <= 4; n++)
                    for (int i = 0; i + n <= text.Length; i++) list.Add(Bucket(text.Substring(i, n), buckets));
            }
            groups[id] = list;
        }
        var width = Math.Max(1, groups.Max(g => g.Count));
        var index = new long[groups.Length * width];
        var mask = new float[groups.Length * width];
        for (int id = 0; id < groups.Length; id++)
            for (int j = 0; j < groups[id].Count; j++) (index[id * width + j], mask[id * width + j]) = (groups[id][j], 1f);
        return new TokenSpelling(index, mask, groups.Length, width, buckets);
    }

    /// <summary>A hash that is the same in every process (string.GetHashCode is not): FNV-1a over the UTF-16 code units.</summary>
    private static long Bucket(string group, int buckets)
    {
        uint hash = 2166136261;
        foreach (var c in group) { hash ^= c; hash *= 16777619; }
        return hash % (uint)buckets;
    }
}

/// <summary>
/// What <c>labels.json</c> holds beside a classifier's weights: the labels in the order of the head's outputs, the
/// pooling, how many tokens of a text the classifier reads (texts are cut there, as in training; null: the
/// model's context length), the buckets of its word scores (null: it has none), the bound on the backbone's logits (null:
/// none) and the temperature the logits are divided by (null: 1).
/// </summary>
public sealed record ClassifierLabels(
    [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
    [property: JsonPropertyName("pooling")] ClassifierPooling Pooling,
    [property: JsonPropertyName("maxTokens")] int? MaxTokens = null,
    [property: JsonPropertyName("pairBuckets")][property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? PairBuckets = null,
    [property: JsonPropertyName("backboneBound")][property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? BackboneBound = null,
    [property: JsonPropertyName("temperature")][property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Temperature = null)
{
    private static readonly JsonSerializerOptions ReadOptions = new();

    /// <summary>Reads labels.json, refusing a missing or damaged one by name.</summary>
    public static ClassifierLabels Load(string path)
    {
        if (!File.Exists(path)) throw new UnsupportedModelException($"{Path.GetDirectoryName(path)} has no {ClassifierFolder.LabelsFile}, so it is not a classifier.");
        try
        {
            var labels = JsonSerializer.Deserialize<ClassifierLabels>(File.ReadAllText(path), ReadOptions);
            if (labels?.Labels is not { Count: >= 2 }) throw new UnsupportedModelException($"{path} names fewer than two labels; it does not belong to a classifier.");
            return labels;
        }
        catch (JsonException e) { throw new UnsupportedModelException($"{path} is damaged (not valid JSON: {e.Message}).", e); }
    }

    /// <summary>The token limit for a model whose context is <paramref name="maxPositions"/>.</summary>
    public int TokenLimit(int maxPositions) => Math.Min(MaxTokens ?? maxPositions, maxPositions);
}

/// <summary>
/// A classifier folder: config.json (the backbone's Llama config), model.safetensors (backbone and <c>score.weight</c>),
/// labels.json, and tokenizer.json when given.
/// </summary>
public static class ClassifierFolder
{
    public const string LabelsFile = "labels.json";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static void Save(LlamaForSequenceClassification classifier, Tokenization.ITokenizer? tokenizer, string folder, int? maxTokens = null)
    {
        Directory.CreateDirectory(folder);
        SafetensorsFile.Write(Path.Combine(folder, ModelFolder.WeightsFile), classifier.ExportWeights(), new Dictionary<string, string> { ["format"] = "pt" });
        classifier.Config.Save(Path.Combine(folder, ModelFolder.ConfigFile));
        AtomicFile.WriteAllText(Path.Combine(folder, LabelsFile), JsonSerializer.Serialize(
            new ClassifierLabels(classifier.Labels, classifier.Pooling, maxTokens, classifier.PairBuckets > 0 ? classifier.PairBuckets : null,
                classifier.BackboneBound > 0 ? classifier.BackboneBound : null, classifier.Temperature != 1 ? classifier.Temperature : null), JsonOptions));
        tokenizer?.Save(Path.Combine(folder, ModelFolder.TokenizerFile));
    }

    public static LlamaForSequenceClassification Load(string folder)
    {
        var labels = ClassifierLabels.Load(Path.Combine(folder, LabelsFile));
        var config = LlamaConfig.Load(Path.Combine(folder, ModelFolder.ConfigFile));
        var classifier = new LlamaForSequenceClassification(config, labels.Labels, labels.Pooling, labels.PairBuckets ?? 0, backboneBound: labels.BackboneBound ?? 0)
        {
            Temperature = labels.Temperature ?? 1,
        };
        classifier.LoadWeights(SafetensorsFile.Read(Path.Combine(folder, ModelFolder.WeightsFile)), ModelFolder.WeightsFile);
        classifier.eval();
        return classifier;
    }
}
