using Onnx;
using SlmStudio.Core.Models;
using static SlmStudio.Core.Export.OnnxGraphBuilder;

namespace SlmStudio.Core.Export;

/// <summary>
/// Builds the ONNX decoder graph of a Llama-family model (Hugging Face <c>LlamaForCausalLM</c> semantics) with a KV cache,
/// in the input/output layout onnxruntime-genai expects:
/// <c>input_ids, attention_mask, position_ids, past_key_values.{i}.key|value -> logits, present.{i}.key|value</c>,
/// KV shape [batch, kv_heads, seq, head_dim], dynamic batch and sequence axes.
/// Only standard ai.onnx operators of <see cref="Opset"/> are used, so any ONNX runtime can load the file.
/// </summary>
public static class LlamaOnnxGraph
{
    /// <summary>
    /// Opset 17: every operator used here exists in it with its current semantics (Unsqueeze/Slice/Split take their
    /// axes as inputs since 13, Softmax is single-axis since 13, LessOrEqual since 12), and it is the newest opset that
    /// ONNX Runtime (since 1.14), onnxruntime-genai, ONNX Runtime Web, TensorRT 8.6+ and OpenVINO all run, while 18
    /// changed the Reduce* operators' signature which some runtimes still lack.
    /// </summary>
    public const int Opset = 17;

    /// <summary>ONNX IR version that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>Builds the model. Float weights are HF tensors by name (as <see cref="SafetensorsFile.Read"/> returns them).</summary>
    public static ModelProto Build(LlamaConfig config, IReadOnlyDictionary<string, NamedTensor> weights, string producerVersion = "1")
    {
        config.Validate();
        int d = config.HiddenSize, h = config.NumHeads, kv = config.NumKvHeads, hd = config.HeadDim, v = config.VocabSize;
        int ff = config.IntermediateSize, rep = h / kv;
        var g = new OnnxGraphBuilder("slm_llama_decoder");

        NamedTensor W(string name, params long[] shape)
        {
            if (!weights.TryGetValue(name, out var t))
                throw new InvalidModelFileException($"The weights file has no tensor '{name}', which this model configuration needs; the file does not belong to this config.json.");
            if (!t.Shape.SequenceEqual(shape))
                throw new InvalidModelFileException($"Tensor '{name}' has shape [{string.Join(", ", t.Shape)}] but config.json implies [{string.Join(", ", shape)}]; the weights do not match the configuration.");
            return t;
        }

        // Inputs and outputs (names and axes as onnxruntime-genai's llama decoder expects).
        g.Input("input_ids", OnnxType.Int64, "batch_size", "sequence_length");
        g.Input("attention_mask", OnnxType.Int64, "batch_size", "total_sequence_length");
        g.Input("position_ids", OnnxType.Int64, "batch_size", "sequence_length");
        for (int i = 0; i < config.NumLayers; i++)
        {
            g.Input($"past_key_values.{i}.key", OnnxType.Float, "batch_size", kv, "past_sequence_length", hd);
            g.Input($"past_key_values.{i}.value", OnnxType.Float, "batch_size", kv, "past_sequence_length", hd);
        }
        g.Output("logits", OnnxType.Float, "batch_size", "sequence_length", v);
        for (int i = 0; i < config.NumLayers; i++)
        {
            g.Output($"present.{i}.key", OnnxType.Float, "batch_size", kv, "total_sequence_length", hd);
            g.Output($"present.{i}.value", OnnxType.Float, "batch_size", kv, "total_sequence_length", hd);
        }

        // Shared constants.
        var axis1 = g.Int64Tensor("axes_1", 1);
        var axis2 = g.Int64Tensor("axes_2", 2);
        var axes12 = g.Int64Tensor("axes_1_2", 1, 2);
        var zero = g.Int64Scalar("zero", 0);
        var one = g.Int64Scalar("one", 1);
        var qkvShape = g.Int64Tensor("qkv_shape", 0, 0, h + 2 * kv, hd);  // [B, T, (H+2KV)*hd] -> [B, T, H+2KV, hd]
        var qkvSplit = g.Int64Tensor("qkv_split", h + kv, kv);            // rotary part (q and k) | v
        var qkSplit = g.Int64Tensor("qk_split", h, kv);
        var qGroupShape = g.Int64Tensor("q_group_shape", 0, kv, -1, hd);  // [B, H, T, hd] -> [B, KV, rep*T, hd]
        var ctxShape4 = g.Int64Tensor("ctx_shape_4d", 0, h, -1, hd);      // [B, KV, rep*T, hd] -> [B, H, T, hd]
        var flatShape = g.Int64Tensor("flat_shape", 0, 0, h * hd);
        var mlpSplit = g.Int64Tensor("gate_up_split", ff, ff);
        var eps = g.FloatScalar("rms_eps", (float)config.RmsNormEps);
        var two = g.FloatScalar("two", 2f);
        var scale = g.FloatScalar("attn_scale", (float)(1.0 / Math.Sqrt(hd)));
        var maskedValue = g.FloatScalar("masked_score", float.MinValue);

        // rotate_half(x) = concat(-x[hd/2:], x[:hd/2]) as x @ R with a signed permutation matrix: one MatMul instead of
        // Split/Neg/Concat, and exact (each output is one input times +-1 plus zeros).
        var rotation = new float[hd * hd];
        for (int j = 0; j < hd / 2; j++)
        {
            rotation[(j + hd / 2) * hd + j] = -1f;
            rotation[j * hd + j + hd / 2] = 1f;
        }
        var rotationName = g.FloatTensor("rope.rotate_half", rotation, hd, hd);

        // Embedding lookup.
        var embed = W("model.embed_tokens.weight", v, d);
        var embedName = g.FloatTensor(embed.Name, embed.Data, v, d);
        var x = g.Node("Gather", "embed", [embedName, "input_ids"], Int("axis", 0));

        // Rotary embeddings from position_ids: angles = position * inv_freq, computed in float64 (as the training model
        // does) so that long positions lose no precision, duplicated to the full head size (rotate_half layout).
        var invFreq = new double[hd / 2];
        for (int i = 0; i < hd / 2; i++) invFreq[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / hd);
        var invFreqName = g.DoubleTensor("rope.inv_freq", invFreq, hd / 2);
        var pos = g.Node("Cast", "rope/pos_double", ["position_ids"], Int("to", OnnxType.Double));
        var pos3 = g.Node("Unsqueeze", "rope/pos_unsqueeze", [pos, g.Int64Tensor("axes_last", -1)]);
        var freqs = g.Node("Mul", "rope/freqs", [pos3, invFreqName]); // [B, T, hd/2]
        var angles = g.Node("Concat", "rope/angles", [freqs, freqs], Int("axis", -1));
        var cosD = g.Node("Cast", "rope/cos_float", [g.Node("Cos", "rope/cos", [angles])], Int("to", OnnxType.Float));
        var sinD = g.Node("Cast", "rope/sin_float", [g.Node("Sin", "rope/sin", [angles])], Int("to", OnnxType.Float));
        var cos = g.Node("Unsqueeze", "rope/cos_unsqueeze", [cosD, axis2]); // [B, T, 1, hd]
        var sin = g.Node("Unsqueeze", "rope/sin_unsqueeze", [sinD, axis2]);

        // Attention mask: causal by index (the new tokens are the last T of the S total positions) and the caller's
        // attention_mask (left padding), as one boolean [B, 1, rep*T, S] shared by all layers (rows ordered like the
        // grouped queries: rep blocks of the T new positions).
        var t = g.Node("Gather", "mask/T", [g.Node("Shape", "mask/ids_shape", ["input_ids"]), one], Int("axis", 0));
        var s = g.Node("Gather", "mask/S", [g.Node("Shape", "mask/am_shape", ["attention_mask"]), one], Int("axis", 0));
        var past = g.Node("Sub", "mask/past", [s, t]);
        var qIdx = g.Node("Range", "mask/q_idx", [past, s, one]);
        var kIdx = g.Node("Range", "mask/k_idx", [zero, s, one]);
        var causal = g.Node("LessOrEqual", "mask/causal", [kIdx, g.Node("Unsqueeze", "mask/q_col", [qIdx, axis1])]); // [T, S]
        var am = g.Node("Unsqueeze", "mask/am_4d", [g.Node("Cast", "mask/am_bool", ["attention_mask"], Int("to", OnnxType.Bool)), axes12]); // [B,1,1,S]
        var allowed = g.Node("And", "mask/allowed", [causal, am]); // [B, 1, T, S]
        if (rep > 1) allowed = g.Node("Tile", "mask/allowed_grouped", [allowed, g.Int64Tensor("mask_repeats", 1, 1, rep, 1)]); // [B, 1, rep*T, S]

        string RmsNorm(string input, string weightName, string prefix)
        {
            var w = W(weightName, d);
            var wName = g.FloatTensor(weightName, w.Data, d);
            // Pow/ReduceMean/Add/Sqrt/Div/Mul: the standard-operator RMSNorm that ONNX Runtime also fuses into its kernel.
            var sq = g.Node("Pow", prefix + "/pow", [input, two]);
            var mean = g.Node("ReduceMean", prefix + "/mean", [sq], Ints("axes", -1), Int("keepdims", 1));
            var std = g.Node("Sqrt", prefix + "/sqrt", [g.Node("Add", prefix + "/add_eps", [mean, eps])]);
            return g.Node("Mul", prefix + "/scale", [g.Node("Div", prefix + "/div", [input, std]), wName]);
        }

        for (int i = 0; i < config.NumLayers; i++)
        {
            var p = $"model.layers.{i}";
            var hn = RmsNorm(x, $"{p}.input_layernorm.weight", $"layer{i}/input_norm");

            // One MatMul for q, k and v (weights concatenated and transposed to [in, out]); rotary embeddings applied to
            // q and k together while heads are still the third axis ([B, T, heads, hd]).
            var wq = W($"{p}.self_attn.q_proj.weight", h * hd, d);
            var wk = W($"{p}.self_attn.k_proj.weight", kv * hd, d);
            var wv = W($"{p}.self_attn.v_proj.weight", kv * hd, d);
            var qkvW = g.FloatTensor($"{p}.self_attn.qkv_proj.weight.transposed", TransposeConcat([wq, wk, wv], d), d, (h + 2 * kv) * hd);
            var qkv = g.Node("Reshape", $"layer{i}/qkv_heads", [g.Node("MatMul", $"layer{i}/qkv", [hn, qkvW]), qkvShape]);
            var qkAndV = g.NodeMulti("Split", $"layer{i}/qk_v_split", [qkv, qkvSplit], 2, Int("axis", 2));
            var rotated = g.Node("MatMul", $"layer{i}/rotate_half", [qkAndV[0], rotationName]);
            var qkRope = g.Node("Add", $"layer{i}/rope", [g.Node("Mul", $"layer{i}/mul_cos", [qkAndV[0], cos]), g.Node("Mul", $"layer{i}/mul_sin", [rotated, sin])]);
            var qk = g.NodeMulti("Split", $"layer{i}/q_k_split", [qkRope, qkSplit], 2, Int("axis", 2));
            var q = g.Node("Transpose", $"layer{i}/q_t", [qk[0]], Ints("perm", 0, 2, 1, 3));          // [B, H, T, hd]
            var k = g.Node("Transpose", $"layer{i}/k_t", [qk[1]], Ints("perm", 0, 2, 1, 3));          // [B, KV, T, hd]
            var vv = g.Node("Transpose", $"layer{i}/v_t", [qkAndV[1]], Ints("perm", 0, 2, 1, 3));     // [B, KV, T, hd]

            var presentK = g.NodeNamed("Concat", $"present.{i}.key", [$"past_key_values.{i}.key", k], Int("axis", 2));
            var presentV = g.NodeNamed("Concat", $"present.{i}.value", [$"past_key_values.{i}.value", vv], Int("axis", 2));

            // Grouped-query attention without repeating K/V: the rep query heads of each kv head become rep*T rows of one
            // matrix [B, KV, rep*T, hd] against that head's K/V (query head j uses kv head j / rep, as HF's repeat_kv).
            var qGrouped = g.Node("Reshape", $"layer{i}/q_grouped", [g.Node("Mul", $"layer{i}/q_scaled", [q, scale]), qGroupShape]);
            var kT = g.Node("Transpose", $"layer{i}/k_transposed", [presentK], Ints("perm", 0, 1, 3, 2));
            var scores = g.Node("MatMul", $"layer{i}/scores", [qGrouped, kT]); // [B, KV, rep*T, S]
            var masked = g.Node("Where", $"layer{i}/masked_scores", [allowed, scores, maskedValue]);
            var probs = g.Node("Softmax", $"layer{i}/softmax", [masked], Int("axis", -1));
            var ctx = g.Node("MatMul", $"layer{i}/ctx", [probs, presentV]); // [B, KV, rep*T, hd]
            var ctx4 = g.Node("Reshape", $"layer{i}/ctx_4d", [ctx, ctxShape4]);
            var ctxFlat = g.Node("Reshape", $"layer{i}/ctx_flat", [g.Node("Transpose", $"layer{i}/ctx_t", [ctx4], Ints("perm", 0, 2, 1, 3)), flatShape]);
            var wo = W($"{p}.self_attn.o_proj.weight", d, h * hd);
            var woName = g.FloatTensor($"{p}.self_attn.o_proj.weight.transposed", TransposeConcat([wo], h * hd), h * hd, d);
            x = g.Node("Add", $"layer{i}/attn_residual", [x, g.Node("MatMul", $"layer{i}/o_proj", [ctxFlat, woName])]);

            // SwiGLU MLP with gate and up in one MatMul.
            var hn2 = RmsNorm(x, $"{p}.post_attention_layernorm.weight", $"layer{i}/post_norm");
            var wg = W($"{p}.mlp.gate_proj.weight", ff, d);
            var wu = W($"{p}.mlp.up_proj.weight", ff, d);
            var gateUpW = g.FloatTensor($"{p}.mlp.gate_up_proj.weight.transposed", TransposeConcat([wg, wu], d), d, 2 * ff);
            var gu = g.NodeMulti("Split", $"layer{i}/gate_up_split", [g.Node("MatMul", $"layer{i}/gate_up", [hn2, gateUpW]), mlpSplit], 2, Int("axis", -1));
            var silu = g.Node("Mul", $"layer{i}/silu", [gu[0], g.Node("Sigmoid", $"layer{i}/sigmoid", [gu[0]])]);
            var act = g.Node("Mul", $"layer{i}/swiglu", [silu, gu[1]]);
            var wd = W($"{p}.mlp.down_proj.weight", d, ff);
            var wdName = g.FloatTensor($"{p}.mlp.down_proj.weight.transposed", TransposeConcat([wd], ff), ff, d);
            x = g.Node("Add", $"layer{i}/mlp_residual", [x, g.Node("MatMul", $"layer{i}/down_proj", [act, wdName])]);
        }

        var final = RmsNorm(x, "model.norm.weight", "final_norm");
        string lmHead;
        if (config.TieWordEmbeddings || !weights.ContainsKey("lm_head.weight"))
        {
            if (!config.TieWordEmbeddings)
                throw new InvalidModelFileException("The weights file has no 'lm_head.weight' and config.json does not tie the embeddings (tie_word_embeddings); the model is incomplete.");
            // Tied: transpose the one embedding initializer in the graph (constant-folded by the runtime), so the file holds it once.
            lmHead = g.Node("Transpose", "lm_head/tied_transpose", [embedName], Ints("perm", 1, 0));
        }
        else
        {
            var lm = W("lm_head.weight", v, d);
            lmHead = g.FloatTensor("lm_head.weight.transposed", TransposeConcat([lm], d), d, v);
        }
        g.NodeNamed("MatMul", "logits", [final, lmHead]);

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "SLM Studio",
            ProducerVersion = producerVersion,
            Domain = "slmstudio",
            ModelVersion = 1,
            DocString = "Llama-family causal language model (decoder with KV cache) exported by SLM Studio.",
            Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    /// <summary>Transposes row-major [out_k, in] matrices to [in, sum(out_k)] (MatMul's layout), side by side.</summary>
    private static float[] TransposeConcat(IReadOnlyList<NamedTensor> mats, int inDim)
    {
        var totalOut = mats.Sum(m => (int)m.Shape[0]);
        var result = new float[(long)inDim * totalOut];
        int colOffset = 0;
        foreach (var m in mats)
        {
            int rows = (int)m.Shape[0], offset = colOffset;
            var src = m.Data;
            Parallel.For(0, rows, r =>
            {
                long srcRow = (long)r * inDim;
                int col = offset + r;
                for (int c = 0; c < inDim; c++) result[(long)c * totalOut + col] = src[srcRow + c];
            });
            colOffset += rows;
        }
        return result;
    }
}
