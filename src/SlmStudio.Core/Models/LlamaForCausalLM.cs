using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Models;

// A Llama-style decoder in the spirit of nanoGPT's model.py. Field names are Hugging Face LlamaForCausalLM's
// parameter names (TorchSharp names parameters after fields), so state dicts move both ways without renaming.
#pragma warning disable IDE1006 // field names are the checkpoint's parameter names

/// <summary>Root-mean-square layer norm, computed in float32 as Hugging Face does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(long size, double eps) : base(nameof(RmsNorm))
    {
        weight = nn.Parameter(ones(size));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var variance = x.pow(2).mean([-1], keepdim: true);
        return (x * rsqrt(variance + _eps) * weight).MoveToOuterDisposeScope();
    }
}

/// <summary>Keys and values of earlier positions, one pair per layer, shaped (B, kv_heads, T_past, head_dim).</summary>
public sealed class KvCache(int layers) : IDisposable
{
    public Tensor?[] Keys { get; } = new Tensor?[layers];
    public Tensor?[] Values { get; } = new Tensor?[layers];
    public long Length => Keys[0]?.shape[2] ?? 0;

    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        var newK = Keys[layer] is { } pk ? cat([pk, k], 2) : k.alias();
        var newV = Values[layer] is { } pv ? cat([pv, v], 2) : v.alias();
        Keys[layer]?.Dispose();
        Values[layer]?.Dispose();
        Keys[layer] = newK.DetachFromDisposeScope();
        Values[layer] = newV.DetachFromDisposeScope();
        return (newK, newV);
    }

    public void Dispose()
    {
        foreach (var t in Keys.Concat(Values)) t?.Dispose();
        Array.Clear(Keys);
        Array.Clear(Values);
    }
}

public sealed class LlamaAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly int _heads, _kvHeads, _headDim, _layer;

    public LlamaAttention(LlamaConfig c, int layer) : base(nameof(LlamaAttention))
    {
        _heads = c.NumHeads; _kvHeads = c.NumKvHeads; _headDim = c.HeadDim; _layer = layer;
        q_proj = nn.Linear(c.HiddenSize, c.NumHeads * c.HeadDim, hasBias: false);
        k_proj = nn.Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, hasBias: false);
        v_proj = nn.Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, hasBias: false);
        o_proj = nn.Linear(c.NumHeads * c.HeadDim, c.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("Call Forward(x, rope, cache).");

    public Tensor Forward(Tensor x, Rotary rope, KvCache? cache)
    {
        var (B, T, _) = (x.shape[0], x.shape[1], x.shape[2]);
        var q = q_proj.forward(x).view(B, T, _heads, _headDim).transpose(1, 2);   // (B, H, T, hd)
        var k = k_proj.forward(x).view(B, T, _kvHeads, _headDim).transpose(1, 2); // (B, KV, T, hd)
        var v = v_proj.forward(x).view(B, T, _kvHeads, _headDim).transpose(1, 2); // (B, KV, T, hd)
        q = rope.Apply(q);
        k = rope.Apply(k);
        var past = rope.Start; // the cache length before this pass; layers append as they go
        if (cache is not null) (k, v) = cache.Append(_layer, k, v);               // (B, KV, past+T, hd)
        if (_kvHeads != _heads)
        {
            // Grouped-query attention: each key/value head serves heads/kv_heads query heads (HF repeat_kv).
            var rep = _heads / _kvHeads;
            var S = k.shape[2];
            k = k.unsqueeze(2).expand(B, _kvHeads, rep, S, _headDim).reshape(B, _heads, S, _headDim);
            v = v.unsqueeze(2).expand(B, _kvHeads, rep, S, _headDim).reshape(B, _heads, S, _headDim);
        }
        Tensor y;
        if (past == 0) y = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        else if (T == 1) y = F.scaled_dot_product_attention(q, k, v);
        else
        {
            // New positions see every cached position and the causal part of themselves.
            var mask = ones(T, past + T, dtype: ScalarType.Bool, device: x.device).tril(past);
            y = F.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        }
        y = y.transpose(1, 2).contiguous().view(B, T, _heads * _headDim);          // (B, T, H*hd)
        return o_proj.forward(y);
    }
}

public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public LlamaMlp(LlamaConfig c) : base(nameof(LlamaMlp))
    {
        gate_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        up_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: false);
        down_proj = nn.Linear(c.IntermediateSize, c.HiddenSize, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => down_proj.forward(F.silu(gate_proj.forward(x)) * up_proj.forward(x)); // SwiGLU
}

public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly RmsNorm input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly RmsNorm post_attention_layernorm;
    private readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig c, int layer) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        self_attn = new LlamaAttention(c, layer);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        mlp = new LlamaMlp(c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("Call Forward(x, rope, cache).");

    public Tensor Forward(Tensor x, Rotary rope, KvCache? cache)
    {
        x = x + self_attn.Forward(input_layernorm.forward(x), rope, cache);
        return x + mlp.forward(post_attention_layernorm.forward(x));
    }
}

/// <summary>Rotary position embeddings for one forward pass, in Hugging Face's rotate_half convention.</summary>
public sealed class Rotary
{
    private readonly Tensor _cos, _sin; // (T, hd)

    public long Start { get; }

    public Rotary(LlamaConfig c, long start, long length, Device device)
    {
        Start = start;
        var hd = c.HeadDim;
        var invFreq = 1.0 / pow(c.RopeTheta, arange(0, hd, 2, dtype: ScalarType.Float64, device: device) / hd);
        var positions = arange(start, start + length, dtype: ScalarType.Float64, device: device);
        var freqs = outer(positions, invFreq);                                      // (T, hd/2)
        var emb = cat([freqs, freqs], -1);                                          // (T, hd)
        _cos = emb.cos().to(ScalarType.Float32);
        _sin = emb.sin().to(ScalarType.Float32);
    }

    public Tensor Apply(Tensor x) // (B, H, T, hd)
    {
        var half = x.shape[^1] / 2;
        var rotated = cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
        return x * _cos + rotated * _sin;
    }
}

public sealed class LlamaModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly LlamaConfig _config;

    public LlamaModel(LlamaConfig c) : base(nameof(LlamaModel))
    {
        _config = c;
        embed_tokens = nn.Embedding(c.VocabSize, c.HiddenSize);
        layers = nn.ModuleList(Enumerable.Range(0, c.NumLayers).Select(i => new LlamaDecoderLayer(c, i)).ToArray());
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        RegisterComponents();
    }

    public Parameter EmbeddingWeight => embed_tokens.weight!;

    public override Tensor forward(Tensor ids) => Forward(ids, null);

    public Tensor Forward(Tensor ids, KvCache? cache)                               // ids (B, T)
    {
        var rope = new Rotary(_config, cache?.Length ?? 0, ids.shape[1], ids.device);
        var x = embed_tokens.forward(ids);                                          // (B, T, C)
        foreach (var layer in layers) x = layer.Forward(x, rope, cache);
        return norm.forward(x);                                                     // (B, T, C)
    }
}

/// <summary>The language model: backbone plus output head (tied to the input embedding when configured).</summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, Tensor>
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;

    public LlamaConfig Config { get; }

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        config.Validate();
        Config = config;
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Logits (B, T, V) for token ids (B, T).</summary>
    public override Tensor forward(Tensor ids) => Forward(ids, null);

    /// <summary>Logits for new tokens, continuing after the positions held in <paramref name="cache"/> (and appending to it).</summary>
    public Tensor Forward(Tensor ids, KvCache? cache)
    {
        var h = model.Forward(ids, cache);                                          // (B, T, C)
        return lm_head is null ? F.linear(h, model.EmbeddingWeight) : lm_head.forward(h); // (B, T, V)
    }

    /// <summary>GPT-2 style initialisation: N(0, 0.02), residual output projections scaled by 1/sqrt(2·layers).</summary>
    public void InitializeWeights(long seed)
    {
        manual_seed(seed);
        using var _ = no_grad();
        var residualStd = 0.02 / Math.Sqrt(2.0 * Config.NumLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal))
                nn.init.normal_(p, 0, residualStd);
            else nn.init.normal_(p, 0, 0.02);
        }
    }
}
