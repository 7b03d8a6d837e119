using Google.Protobuf;
using Onnx;
using SlmStudio.Core.Classification;
using SlmStudio.Core.Models;

namespace SlmStudio.Core.Export;

/// <summary>
/// The ONNX graph of a <see cref="LlamaForSequenceClassification"/>: <c>input_ids</c> and <c>attention_mask</c>
/// (int64 [batch, sequence], padding on the right, mask 1 on text and 0 on padding) in, <c>probabilities</c>
/// (float [batch, labels], in the order of labels.json) out. No KV cache: a text is read once.
/// <para>
/// The backbone is the decoder graph of <see cref="LlamaOnnxGraph"/>, so the two can never drift apart; this class
/// turns it into a classifier: the cache inputs become empty tensors, positions count from 0 inside the graph (right
/// padding leaves every text at positions 0..n-1), the hidden states after the final norm are pooled over the text as
/// the classifier does in training, and <c>score</c> plus a softmax give the probabilities. A classifier with word
/// scores (<see cref="TokenPairs"/>) adds the averaged scores of its tokens and hashed token pairs to the logits, hashed
/// as in training. Everything the language-model head needed is then pruned away.
/// </para>
/// </summary>
public static class ClassifierOnnxGraph
{
    public const string InputIds = Inference.ClassifierOnnxGraphNames.InputIds;
    public const string AttentionMask = Inference.ClassifierOnnxGraphNames.AttentionMask;
    public const string Probabilities = Inference.ClassifierOnnxGraphNames.Probabilities;
    public const string TokenScoresWeight = "token_scores.weight", PairScoresWeight = "pair_scores.weight";

    /// <param name="pairBuckets">The buckets of the word scores (labels.json); 0: the classifier has none.</param>
    /// <param name="backboneBound">The bound on the head's logits (labels.json); 0: none.</param>
    /// <param name="temperature">The logits are divided by this before the softmax (labels.json; 1: not).</param>
    public static ModelProto Build(LlamaConfig config, IReadOnlyList<string> labels, ClassifierPooling pooling, IReadOnlyDictionary<string, NamedTensor> weights, string producerVersion = "1", int pairBuckets = 0,
        double backboneBound = 0, double temperature = 1)
    {
        if (!weights.TryGetValue("score.weight", out var score) || score.Shape is not [var k, var c] || k != labels.Count || c != config.HiddenSize)
            throw new InvalidModelFileException($"The classifier's weights have no 'score.weight' of shape [{labels.Count}, {config.HiddenSize}] (one row per label); the weights do not belong to labels.json and config.json.");
        NamedTensor? tokenScores = null, pairScores = null;
        if (pairBuckets > 0 && (!weights.TryGetValue(TokenScoresWeight, out tokenScores) || tokenScores.Shape is not [var v, var kt] || v != config.VocabSize || kt != k
                                || !weights.TryGetValue(PairScoresWeight, out pairScores) || pairScores.Shape is not [var h, var kp] || h != pairBuckets || kp != k))
            throw new InvalidModelFileException($"labels.json says the classifier has word scores in {pairBuckets} buckets, but its weights have no '{TokenScoresWeight}' of shape [{config.VocabSize}, {k}] and '{PairScoresWeight}' of shape [{pairBuckets}, {k}].");
        var backboneWeights = new Dictionary<string, NamedTensor>(weights, StringComparer.Ordinal);
        foreach (var name in new[] { "score.weight", TokenScoresWeight, PairScoresWeight }) backboneWeights.Remove(name);
        // The decoder graph wants a language-model head when the embeddings are not tied; a classifier has none. The
        // embedding matrix has the head's shape and stands in for it: the head's nodes are pruned below, unused.
        if (!config.TieWordEmbeddings && !backboneWeights.ContainsKey("lm_head.weight") && backboneWeights.TryGetValue("model.embed_tokens.weight", out var embed))
            backboneWeights["lm_head.weight"] = embed with { Name = "lm_head.weight" };
        if (config.LmHeadBias && !backboneWeights.ContainsKey("lm_head.bias"))
            backboneWeights["lm_head.bias"] = new NamedTensor("lm_head.bias", [config.VocabSize], new float[config.VocabSize]);

        var model = LlamaOnnxGraph.Build(config, backboneWeights, producerVersion);
        var graph = model.Graph;
        var hidden = FinalHiddenState(graph);

        var pastNames = graph.Input.Select(i => i.Name).Where(n => n.StartsWith("past_key_values.", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        foreach (var name in pastNames.Append("position_ids").ToList())
        {
            var input = graph.Input.First(i => i.Name == name);
            graph.Input.Remove(input);
        }
        graph.Output.Clear();

        var nodes = new List<NodeProto>();
        var initializers = new List<TensorProto>();
        string Node(string op, string output, IEnumerable<string> inputs, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = op, Name = "classifier/" + output };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            nodes.Add(node);
            return output;
        }
        string Int64s(string name, params long[] values)
        {
            var t = new TensorProto { Name = name, DataType = OnnxType.Int64, RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray()) };
            t.Dims.Add(values.Length);
            initializers.Add(t);
            return name;
        }
        string Int64Scalar(string name, long value)
        {
            initializers.Add(new TensorProto { Name = name, DataType = OnnxType.Int64, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) });
            return name;
        }
        string FloatScalar(string name, float value)
        {
            initializers.Add(new TensorProto { Name = name, DataType = OnnxType.Float, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) });
            return name;
        }

        // Shapes of the batch.
        var idsShape = Node("Shape", "classifier/ids_shape", [InputIds]);
        var batch = Node("Gather", "classifier/batch", [idsShape, Int64s("classifier/index_0", 0)], OnnxGraphBuilder.Int("axis", 0));   // [1]
        var length = Node("Gather", "classifier/length", [idsShape, Int64Scalar("classifier/scalar_1", 1)], OnnxGraphBuilder.Int("axis", 0)); // scalar

        // Positions 0..T-1 for every row ([1, T], broadcast over the batch).
        var range = Node("Range", "classifier/positions", [Int64Scalar("classifier/scalar_0", 0), length, "classifier/scalar_1"]);
        Node("Unsqueeze", "position_ids", [range, Int64s("classifier/axes_0", 0)]);

        // An empty cache [B, kv_heads, 0, head_dim] for every layer.
        var emptyShape = Node("Concat", "classifier/empty_past_shape", [batch, Int64s("classifier/kv_0_hd", config.NumKvHeads, 0, config.HeadDim)], OnnxGraphBuilder.Int("axis", 0));
        var zero = new TensorProto { Name = "value", DataType = OnnxType.Float, RawData = ByteString.CopyFrom(BitConverter.GetBytes(0f)) };
        zero.Dims.Add(1);
        var emptyPast = Node("ConstantOfShape", "classifier/empty_past", [emptyShape], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = zero });
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (pastNames.Contains(node.Input[i])) node.Input[i] = emptyPast;
        // Nodes must stay in topological order: positions and the empty cache go before the decoder that reads them.
        var inputNodes = nodes.Count;

        // Pooling, as LlamaForSequenceClassification.forward.
        var axes1 = Int64s("classifier/axes_1", 1);
        string pooled;
        if (pooling == ClassifierPooling.Mean)
        {
            var mask = Node("Cast", "classifier/mask_float", [AttentionMask], OnnxGraphBuilder.Int("to", OnnxType.Float));                     // [B, T]
            var mask3 = Node("Unsqueeze", "classifier/mask_3d", [mask, Int64s("classifier/axes_last", -1)]);                                      // [B, T, 1]
            var sum = Node("ReduceSum", "classifier/masked_sum", [Node("Mul", "classifier/masked_hidden", [hidden, mask3]), axes1], OnnxGraphBuilder.Int("keepdims", 0)); // [B, C]
            var count = Node("Max", "classifier/count", [Node("ReduceSum", "classifier/mask_count", [mask, axes1], OnnxGraphBuilder.Int("keepdims", 1)), FloatScalar("classifier/one_float", 1f)]); // [B, 1]
            pooled = Node("Div", "classifier/mean", [sum, count]);
        }
        else
        {
            var lastIndex = Node("Max", "classifier/last_index", [Node("Sub", "classifier/length_minus_one", [Node("ReduceSum", "classifier/lengths", [AttentionMask, axes1], OnnxGraphBuilder.Int("keepdims", 1)), "classifier/scalar_1"]), "classifier/scalar_0"]); // [B, 1]
            var index3 = Node("Unsqueeze", "classifier/last_index_3d", [lastIndex, Int64s("classifier/axes_2", 2)]);                                // [B, 1, 1]
            var expandShape = Node("Concat", "classifier/gather_shape", [batch, Int64s("classifier/one_hidden", 1, config.HiddenSize)], OnnxGraphBuilder.Int("axis", 0));
            var index = Node("Expand", "classifier/last_index_expanded", [index3, expandShape]);                                                     // [B, 1, C]
            pooled = Node("Squeeze", "classifier/last", [Node("GatherElements", "classifier/last_hidden", [hidden, index], OnnxGraphBuilder.Int("axis", 1)), axes1]);
        }

        // score: [labels, C] stored transposed as [C, labels] for MatMul.
        var scoreT = new float[score.Data.Length];
        for (int label = 0; label < k; label++)
            for (int j = 0; j < c; j++) scoreT[j * k + label] = score.Data[label * c + j];
        var scoreTensor = new TensorProto { Name = "score.weight.transposed", DataType = OnnxType.Float, RawData = ByteString.CopyFrom(scoreT.SelectMany(BitConverter.GetBytes).ToArray()) };
        scoreTensor.Dims.AddRange([c, k]);
        initializers.Add(scoreTensor);
        var logits = Node("MatMul", "classifier/logits", [pooled, scoreTensor.Name]);
        if (backboneBound > 0)
        {
            var bound = FloatScalar("classifier/backbone_bound", (float)backboneBound);
            logits = Node("Mul", "classifier/logits_bounded", [Node("Tanh", "classifier/logits_tanh", [Node("Div", "classifier/logits_scaled", [logits, bound])]), bound]);
        }

        // Word scores, as LlamaForSequenceClassification.forward: the mean score of the text's tokens, plus the mean score
        // of its pairs of neighbouring tokens (a pair is text when its second token is).
        if (tokenScores is not null && pairScores is not null)
        {
            string Weights(NamedTensor t)
            {
                var proto = new TensorProto { Name = t.Name, DataType = OnnxType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.Data.AsSpan())) };
                proto.Dims.AddRange(t.Shape);
                initializers.Add(proto);
                return t.Name;
            }
            string MaskedMean(string prefix, string scores, string textMask)                                                                  // [B, N, K], [B, N] -> [B, K]
            {
                var sum = Node("ReduceSum", prefix + "_sum", [Node("Mul", prefix + "_masked", [scores, Node("Unsqueeze", prefix + "_mask_3d", [textMask, Int64s(prefix + "_axes_last", -1)])]), axes1], OnnxGraphBuilder.Int("keepdims", 0));
                var count = Node("Max", prefix + "_count", [Node("ReduceSum", prefix + "_mask_count", [textMask, axes1], OnnxGraphBuilder.Int("keepdims", 1)), FloatScalar(prefix + "_one", 1f)]); // [B, 1]
                return Node("Div", prefix + "_mean", [sum, count]);
            }
            var textMask = Node("Cast", "classifier/words/mask", [AttentionMask], OnnxGraphBuilder.Int("to", OnnxType.Float));                // [B, T]
            var tokenMean = MaskedMean("classifier/words/token", Node("Gather", "classifier/words/token_scores", [Weights(tokenScores), InputIds], OnnxGraphBuilder.Int("axis", 0)), textMask);
            var first = Node("Slice", "classifier/words/first", [InputIds, Int64s("classifier/words/from_0", 0), Int64s("classifier/words/to_last", -1), axes1]);          // [B, T-1]
            var second = Node("Slice", "classifier/words/second", [InputIds, Int64s("classifier/words/from_1", 1), Int64s("classifier/words/to_end", long.MaxValue), axes1]); // [B, T-1]
            var hashed = Node("Add", "classifier/words/pair_hash", [
                Node("Mul", "classifier/words/first_mixed", [first, Int64Scalar("classifier/words/first_multiplier", TokenPairs.FirstMultiplier)]),
                Node("Mul", "classifier/words/second_mixed", [second, Int64Scalar("classifier/words/second_multiplier", TokenPairs.SecondMultiplier)])]);
            var bucket = Node("Mod", "classifier/words/pair_bucket", [hashed, Int64Scalar("classifier/words/buckets", pairBuckets)]);              // [B, T-1]
            var pairMask = Node("Slice", "classifier/words/pair_mask", [textMask, "classifier/words/from_1", "classifier/words/to_end", axes1]);  // [B, T-1]
            var pairMean = MaskedMean("classifier/words/pair", Node("Gather", "classifier/words/pair_scores", [Weights(pairScores), bucket], OnnxGraphBuilder.Int("axis", 0)), pairMask);
            logits = Node("Add", "classifier/logits_with_words", [Node("Add", "classifier/logits_with_tokens", [logits, tokenMean]), pairMean]);
        }
        if (temperature != 1) logits = Node("Div", "classifier/logits_tempered", [logits, FloatScalar("classifier/temperature", (float)temperature)]);
        Node("Softmax", Probabilities, [logits], OnnxGraphBuilder.Int("axis", -1));

        for (int i = inputNodes - 1; i >= 0; i--) graph.Node.Insert(0, nodes[i]);
        graph.Node.AddRange(nodes.Skip(inputNodes));
        graph.Initializer.AddRange(initializers);
        graph.Output.Add(OnnxGraphBuilder.Value(Probabilities, OnnxType.Float, "batch_size", (long)labels.Count));
        graph.Name = "slm_llama_classifier";
        Prune(graph);
        model.DocString = $"{config.ArchitectureName} text classifier ({labels.Count} labels, {pooling} pooling{(pairBuckets > 0 ? $", word scores in {pairBuckets} buckets" : "")}) exported by SLM Studio: input_ids and attention_mask [batch, sequence] (right padding) -> probabilities [batch, labels].";
        return model;
    }

    /// <summary>The hidden states after the final norm: what the language-model head multiplies into logits.</summary>
    private static string FinalHiddenState(GraphProto graph)
    {
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(x => x.o, x => x.n, StringComparer.Ordinal);
        var node = producers["logits"];
        if (node.OpType == "Add") node = producers[node.Input[0]]; // the head's bias after its MatMul
        if (node.OpType != "MatMul") throw new InvalidOperationException($"The decoder graph's logits come from {node.OpType}, not the language-model head's MatMul.");
        return node.Input[0];
    }

    /// <summary>Removes every node and initializer the outputs do not depend on.</summary>
    private static void Prune(GraphProto graph)
    {
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in graph.Node) foreach (var o in n.Output) producers[o] = n;
        var needed = new HashSet<NodeProto>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>(graph.Output.Select(o => o.Name));
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!names.Add(name)) continue;
            if (producers.TryGetValue(name, out var node) && needed.Add(node))
                foreach (var input in node.Input.Where(i => i.Length > 0)) stack.Push(input);
        }
        var kept = graph.Node.Where(needed.Contains).ToList(); // original (topological) order
        graph.Node.Clear();
        graph.Node.AddRange(kept);
        var initializers = graph.Initializer.Where(t => names.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
    }
}
