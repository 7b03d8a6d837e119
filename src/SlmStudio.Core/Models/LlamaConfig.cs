using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace SlmStudio.Core.Models;

/// <summary>The Hugging Face model families this engine runs (config.json <c>model_type</c>).</summary>
public enum ModelFamily { Llama, Qwen2, Mistral, Phi3, Phi }

/// <summary>How hidden states are normalised: RMSNorm (Llama family) or LayerNorm with bias (Phi-2).</summary>
public enum NormKind { RmsNorm, LayerNorm }

/// <summary>
/// Llama 3's frequency-dependent rotary scaling (<c>rope_scaling.rope_type = "llama3"</c>, used by Llama 3.1/3.2 and
/// SmolLM2): long wavelengths are divided by <see cref="Factor"/>, short ones kept, the band between interpolated.
/// </summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositions);

/// <summary>
/// The one configuration of the decoder, with the field names and meaning of Hugging Face's config.json so that
/// checkpoints move both ways without conversion. Llama is the base; the other families are Llama plus the named
/// options below (biases, sliding window, LayerNorm, parallel block, partial rotary, activation), which
/// <see cref="Load"/> sets from each family's own config keys.
/// </summary>
public sealed record LlamaConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int NumKvHeads { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositions { get; init; } = 256;
    /// <summary>Epsilon of every norm (RMSNorm's <c>rms_norm_eps</c>, or <c>layer_norm_eps</c> for LayerNorm families).</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-5;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public int? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; init; }

    // Architecture options. Defaults are plain Llama, so our own trained models and their config.json are unchanged.
    [JsonIgnore] public ModelFamily Family { get; init; } = ModelFamily.Llama;
    /// <summary>Biases on the q, k and v projections (Qwen2, Phi-2, Llama with attention_bias).</summary>
    [JsonIgnore] public bool QkvBias { get; init; }
    /// <summary>Bias on the attention output projection (Phi-2's dense, Llama with attention_bias).</summary>
    [JsonIgnore] public bool OutputProjectionBias { get; init; }
    /// <summary>Biases on the MLP projections (Phi-2's fc1/fc2, Llama with mlp_bias).</summary>
    [JsonIgnore] public bool MlpBias { get; init; }
    /// <summary>SwiGLU-style gate (down(act(gate(x)) * up(x))); false: plain two-layer MLP (Phi-2's fc2(act(fc1(x)))).</summary>
    [JsonIgnore] public bool GatedMlp { get; init; } = true;
    /// <summary>Hugging Face <c>hidden_act</c>: "silu" or "gelu_new" (GELU, tanh approximation).</summary>
    [JsonIgnore] public string Activation { get; init; } = "silu";
    [JsonIgnore] public NormKind Norm { get; init; } = NormKind.RmsNorm;
    /// <summary>Phi-2's block: x + attn(ln(x)) + mlp(ln(x)) with one norm, instead of two residual steps.</summary>
    [JsonIgnore] public bool ParallelBlock { get; init; }
    /// <summary>Share of each head's dimensions that get rotary embeddings (the first ones); the rest pass through.</summary>
    [JsonIgnore] public double PartialRotaryFactor { get; init; } = 1.0;
    /// <summary>Position i attends only to the last <c>SlidingWindow</c> positions (itself included); null: all earlier ones.</summary>
    [JsonIgnore] public int? SlidingWindow { get; init; }
    [JsonIgnore] public bool LmHeadBias { get; init; }
    [JsonIgnore] public Llama3RopeScaling? RopeScaling { get; init; }

    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumHeads;

    /// <summary>Dimensions of each head that rotate (Hugging Face: int(head_dim * partial_rotary_factor)).</summary>
    [JsonIgnore] public int RotaryDim => (int)(HeadDim * PartialRotaryFactor);

    [JsonIgnore] public string ModelType => Family switch
    {
        ModelFamily.Qwen2 => "qwen2",
        ModelFamily.Mistral => "mistral",
        ModelFamily.Phi3 => "phi3",
        ModelFamily.Phi => "phi",
        _ => "llama",
    };

    [JsonIgnore] public string ArchitectureName => Family switch
    {
        ModelFamily.Qwen2 => "Qwen2ForCausalLM",
        ModelFamily.Mistral => "MistralForCausalLM",
        ModelFamily.Phi3 => "Phi3ForCausalLM",
        ModelFamily.Phi => "PhiForCausalLM",
        _ => "LlamaForCausalLM",
    };

    /// <summary>
    /// Rotary inverse frequencies, one per rotating pair: theta^(-2i/rotary_dim), then Llama 3 scaling when configured.
    /// The TorchSharp model and the ONNX graph both use this, so they rotate identically.
    /// </summary>
    public double[] RopeInverseFrequencies()
    {
        int dim = RotaryDim;
        var invFreq = new double[dim / 2];
        for (int i = 0; i < invFreq.Length; i++) invFreq[i] = 1.0 / Math.Pow(RopeTheta, 2.0 * i / dim);
        if (RopeScaling is not { } s) return invFreq;
        // transformers' _compute_llama3_parameters.
        double lowFreqWavelen = s.OriginalMaxPositions / s.LowFreqFactor;
        double highFreqWavelen = s.OriginalMaxPositions / s.HighFreqFactor;
        for (int i = 0; i < invFreq.Length; i++)
        {
            double wavelen = 2 * Math.PI / invFreq[i];
            if (wavelen > lowFreqWavelen) invFreq[i] /= s.Factor;
            else if (wavelen >= highFreqWavelen)
            {
                double smooth = (s.OriginalMaxPositions / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                invFreq[i] = (1 - smooth) * invFreq[i] / s.Factor + smooth * invFreq[i];
            }
        }
        return invFreq;
    }

    /// <summary>Exact parameter count of <see cref="LlamaForCausalLM"/> built from this config.</summary>
    [JsonIgnore]
    public long ParameterCount
    {
        get
        {
            long d = HiddenSize, hd = HeadDim, kv = (long)NumKvHeads * hd, q = (long)NumHeads * hd, ff = IntermediateSize;
            long attention = d * q + 2 * d * kv + q * d + (QkvBias ? q + 2 * kv : 0) + (OutputProjectionBias ? d : 0);
            long mlp = (GatedMlp ? 3 : 2) * d * ff + (MlpBias ? (GatedMlp ? 2 * ff : ff) + d : 0);
            long norm = Norm == NormKind.LayerNorm ? 2 * d : d;
            long perLayer = attention + mlp + (ParallelBlock ? 1 : 2) * norm;
            long embeddings = (long)VocabSize * d;
            long head = TieWordEmbeddings ? 0 : embeddings + (LmHeadBias ? VocabSize : 0);
            return embeddings + NumLayers * perLayer + norm + head;
        }
    }

    /// <summary>Parameters excluding the input embedding: the "N" of scaling-law sizing.</summary>
    [JsonIgnore] public long NonEmbeddingParameterCount => ParameterCount - (long)VocabSize * HiddenSize;

    public void Validate()
    {
        var problems = new List<string>();
        if (VocabSize <= 0) problems.Add("vocab_size must be positive");
        if (HiddenSize <= 0) problems.Add("hidden_size must be positive");
        if (NumLayers <= 0) problems.Add("num_hidden_layers must be positive");
        if (NumHeads <= 0) problems.Add("num_attention_heads must be positive");
        if (NumKvHeads <= 0 || (NumHeads > 0 && NumHeads % NumKvHeads != 0))
            problems.Add($"num_key_value_heads ({NumKvHeads}) must divide num_attention_heads ({NumHeads})");
        if (HeadDimOverride is null && NumHeads > 0 && HiddenSize % NumHeads != 0)
            problems.Add($"hidden_size ({HiddenSize}) must be a multiple of num_attention_heads ({NumHeads})");
        if (NumHeads > 0 && (RotaryDim % 2 != 0 || RotaryDim <= 0))
            problems.Add($"the rotating part of each head ({RotaryDim} of {HeadDim}) must be even and positive for rotary position embeddings");
        if (IntermediateSize <= 0) problems.Add("intermediate_size must be positive");
        if (SlidingWindow is <= 0) problems.Add("sliding_window must be positive");
        if (LmHeadBias && TieWordEmbeddings) problems.Add("an lm_head bias needs an untied lm_head (tie_word_embeddings false)");
        if (Activation is not ("silu" or "gelu_new")) problems.Add($"activation '{Activation}' is not implemented");
        if (problems.Count > 0) throw new UnsupportedModelException("The model configuration is not usable: " + string.Join("; ", problems) + ".");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private static readonly Dictionary<string, (ModelFamily Family, string Architecture)> SupportedTypes = new(StringComparer.Ordinal)
    {
        ["llama"] = (ModelFamily.Llama, "LlamaForCausalLM"),
        ["qwen2"] = (ModelFamily.Qwen2, "Qwen2ForCausalLM"),
        ["mistral"] = (ModelFamily.Mistral, "MistralForCausalLM"),
        ["phi3"] = (ModelFamily.Phi3, "Phi3ForCausalLM"),
        ["phi"] = (ModelFamily.Phi, "PhiForCausalLM"),
    };

    private const string SupportedList = "Llama (llama), Qwen2 (qwen2), Mistral (mistral), Phi-3 (phi3) and Phi-2 (phi)";

    /// <summary>Reads a Hugging Face config.json, refusing architectures and features this engine does not implement.</summary>
    public static LlamaConfig Load(string configJsonPath)
    {
        if (!File.Exists(configJsonPath)) throw new UnsupportedModelException($"No config.json at {configJsonPath}: a model folder needs config.json, model.safetensors and tokenizer.json.");
        JsonObject node;
        try { node = JsonNode.Parse(File.ReadAllText(configJsonPath))!.AsObject(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        { throw new UnsupportedModelException($"{configJsonPath} is not valid JSON ({e.Message})."); }
        try { return FromJson(node); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        { throw new UnsupportedModelException($"{configJsonPath} has a value of the wrong kind ({e.Message}).", e); }
    }

    /// <summary>Reads config.json text (<paramref name="source"/> names it in messages) with the same checks as <see cref="Load"/>.</summary>
    public static LlamaConfig Parse(string json, string source)
    {
        try { return FromJson(JsonNode.Parse(json)!.AsObject()); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException)
        { throw new UnsupportedModelException($"{source} is not a valid config.json ({e.Message}).", e); }
    }

    private static LlamaConfig FromJson(JsonObject node)
    {
        var architectures = node["architectures"]?.AsArray().Select(a => a?.GetValue<string>()).ToList() ?? [];
        var modelType = node["model_type"]?.GetValue<string>()
            ?? SupportedTypes.FirstOrDefault(t => architectures.Contains(t.Value.Architecture)).Key
            ?? (architectures.Count == 0 ? "llama" : null);
        if (modelType is null || !SupportedTypes.TryGetValue(modelType, out var supported))
            throw new UnsupportedModelException(modelType is null
                ? $"Architecture '{string.Join(", ", architectures)}' is not supported: SLM Studio runs {SupportedList} models."
                : $"Model type '{modelType}' is not supported: SLM Studio runs {SupportedList} models.");
        if (architectures.Count > 0 && !architectures.Contains(supported.Architecture))
            throw new UnsupportedModelException($"Architecture '{string.Join(", ", architectures)}' is not supported: a '{modelType}' model must be {supported.Architecture}.");
        var family = supported.Family;

        bool Flag(string key) => node[key] is JsonValue v && v.GetValue<bool>();
        int? OptionalInt(string key) => node[key] is JsonValue v ? v.GetValue<int>() : null;

        var activation = node["hidden_act"]?.GetValue<string>() ?? (family == ModelFamily.Phi ? "gelu_new" : "silu");
        var expectedActivations = family == ModelFamily.Phi ? new[] { "gelu_new", "gelu_pytorch_tanh" } : ["silu"];
        if (!expectedActivations.Contains(activation))
            throw new UnsupportedModelException($"Activation '{activation}' is not supported for {modelType} models: only '{string.Join("' or '", expectedActivations)}' is.");
        activation = activation == "gelu_pytorch_tanh" ? "gelu_new" : activation; // the same formula under two names

        var ropeScaling = ReadRopeScaling(node["rope_scaling"]);
        bool llamaAttentionBias = family == ModelFamily.Llama && Flag("attention_bias");
        if (family == ModelFamily.Phi && Flag("qk_layernorm")) throw new UnsupportedModelException("qk_layernorm = true (Phi with LayerNorm on queries and keys) is not supported.");
        if (family == ModelFamily.Qwen2 && Flag("use_sliding_window")) throw new UnsupportedModelException("use_sliding_window = true (Qwen2 with sliding-window attention on some layers) is not supported.");

        static int? FirstId(JsonNode? n) => n switch
        {
            null => null,
            JsonArray a => a.Count > 0 ? a[0]!.GetValue<int>() : null,
            _ => n.GetValue<int>(),
        };
        var eos = FirstId(node["eos_token_id"]);
        var bos = FirstId(node["bos_token_id"]);
        var pad = FirstId(node["pad_token_id"]);
        var basic = new JsonObject();
        foreach (var key in new[] { "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings" })
            if (node[key] is JsonValue value) basic[key] = value.DeepClone();
        var config = basic.Deserialize<LlamaConfig>()!;
        config = config with
        {
            NumKvHeads = config.NumKvHeads == 0 ? config.NumHeads : config.NumKvHeads,
            EosTokenId = eos,
            BosTokenId = bos,
            PadTokenId = pad,
            Family = family,
            Activation = activation,
            RopeScaling = ropeScaling,
            PartialRotaryFactor = node["partial_rotary_factor"] is JsonValue prf ? prf.GetValue<double>() : 1.0,
            QkvBias = family is ModelFamily.Qwen2 or ModelFamily.Phi || llamaAttentionBias,
            OutputProjectionBias = family == ModelFamily.Phi || llamaAttentionBias,
            MlpBias = family == ModelFamily.Phi || (family == ModelFamily.Llama && Flag("mlp_bias")),
            GatedMlp = family != ModelFamily.Phi,
            Norm = family == ModelFamily.Phi ? NormKind.LayerNorm : NormKind.RmsNorm,
            RmsNormEps = family == ModelFamily.Phi ? node["layer_norm_eps"]?.GetValue<double>() ?? 1e-5 : config.RmsNormEps,
            ParallelBlock = family == ModelFamily.Phi,
            LmHeadBias = family == ModelFamily.Phi,
            SlidingWindow = family is ModelFamily.Mistral or ModelFamily.Phi3 ? OptionalInt("sliding_window") : null,
        };
        config.Validate();
        return config;
    }

    private static Llama3RopeScaling? ReadRopeScaling(JsonNode? node)
    {
        if (node is not JsonObject scaling) return null;
        var kind = (scaling["rope_type"] ?? scaling["type"])?.GetValue<string>();
        if (kind == "default") return null;
        if (kind != "llama3")
            throw new UnsupportedModelException($"rope_scaling type '{kind ?? "(none given)"}' is not supported: only 'llama3' (Llama 3.1/3.2, SmolLM2) and plain rotary embeddings are.");
        double Required(string key) => scaling[key]?.GetValue<double>()
            ?? throw new UnsupportedModelException($"rope_scaling of type 'llama3' needs '{key}', which config.json does not give.");
        var result = new Llama3RopeScaling(Required("factor"), Required("low_freq_factor"), Required("high_freq_factor"), (int)Required("original_max_position_embeddings"));
        if (result.Factor <= 0 || result.HighFreqFactor <= result.LowFreqFactor)
            throw new UnsupportedModelException("rope_scaling 'llama3' needs factor > 0 and high_freq_factor > low_freq_factor.");
        return result;
    }

    /// <summary>config.json in the layout of this model's own family, so that transformers and our loader read it back alike.</summary>
    public string ToJson()
    {
        var node = JsonSerializer.SerializeToNode(this, JsonOptions)!.AsObject();
        node["architectures"] = new JsonArray(ArchitectureName);
        node["model_type"] = ModelType;
        node["hidden_act"] = Activation;
        node["torch_dtype"] = "float32";
        if (HeadDimOverride is null) node["head_dim"] = HeadDim;
        switch (Family)
        {
            case ModelFamily.Llama:
                node["attention_bias"] = QkvBias;
                node["mlp_bias"] = MlpBias;
                break;
            case ModelFamily.Qwen2:
                node["use_sliding_window"] = false;
                break;
            case ModelFamily.Mistral or ModelFamily.Phi3:
                node["sliding_window"] = SlidingWindow;
                break;
            case ModelFamily.Phi:
                node.Remove("rms_norm_eps");
                node["layer_norm_eps"] = RmsNormEps;
                node["qk_layernorm"] = false;
                break;
        }
        if (PartialRotaryFactor != 1.0) node["partial_rotary_factor"] = PartialRotaryFactor;
        if (RopeScaling is { } s)
            node["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3",
                ["factor"] = s.Factor,
                ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor,
                ["original_max_position_embeddings"] = s.OriginalMaxPositions,
            };
        return node.ToJsonString(JsonOptions);
    }

    public void Save(string configJsonPath) => AtomicFile.WriteAllText(configJsonPath, ToJson());
}
