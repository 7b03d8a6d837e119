namespace SlmStudio.Core.Export.Quantization;

/// <summary>
/// How <see cref="LlamaOnnxGraph"/> stores the linear layers: fp32 MatMul, or ONNX Runtime's <c>com.microsoft.MatMulNBits</c>
/// with <see cref="BlockQuantizer"/> weights (4 or 8 bits). The embedding lookup always stays fp32 (a Gather reads one row
/// per token, so quantising it saves file size but no time).
/// </summary>
/// <param name="AccuracyLevel">
/// MatMulNBits' <c>accuracy_level</c>: 4 lets ONNX Runtime quantise the activations to int8 per block and multiply in
/// integers (its fastest CPU kernels, and the only fast 8-bit path); 1 dequantises to fp32 and multiplies in floats.
/// </param>
/// <param name="QuantizeLmHead">Whether the final projection to the vocabulary is quantised too (it is the largest matrix of a small model).</param>
public sealed record QuantizationOptions(WeightPrecision Precision, int BlockSize = BlockQuantizer.DefaultBlockSize, int AccuracyLevel = 4, bool QuantizeLmHead = true)
{
    public static readonly QuantizationOptions Fp32 = new(WeightPrecision.Fp32);

    public static QuantizationOptions For(WeightPrecision precision) => new(precision);

    public bool IsQuantized => Precision.IsQuantized();
}
