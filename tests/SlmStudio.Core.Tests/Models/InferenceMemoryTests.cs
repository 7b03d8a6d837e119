using SlmStudio.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Models;

public class InferenceMemoryTests
{
    /// <summary>Tensors a forward pass leaves alive in the caller's dispose scope, for a model of this many layers.</summary>
    private static long TensorsLeftByForward(int layers, bool autograd)
    {
        using var model = new LlamaForCausalLM(new LlamaConfig { VocabSize = 64, HiddenSize = 32, IntermediateSize = 64, NumLayers = layers, NumHeads = 2, NumKvHeads = 2, MaxPositions = 32 });
        using var ids = tensor(new long[] { 1, 5, 9, 13, 2, 7, 11, 3 }, [1, 8]);
        using var grad = autograd ? enable_grad() : no_grad();
        using var scope = NewDisposeScope();
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        model.forward(ids);
        return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
    }

    [Fact]
    public void WithoutAutogradALayersIntermediatesAreFreedWhenItReturns()
    {
        // Each extra layer may leave its output (the residual stream the next layer reads), nothing more.
        var extraLayers = 6;
        var growth = TensorsLeftByForward(2 + extraLayers, autograd: false) - TensorsLeftByForward(2, autograd: false);
        Assert.InRange(growth, 0, extraLayers);
        // With autograd the intermediates are what backward needs: the same count would show they are kept per layer.
        var withAutograd = TensorsLeftByForward(2 + extraLayers, autograd: true) - TensorsLeftByForward(2, autograd: true);
        Assert.True(withAutograd > 5 * extraLayers, $"with autograd {withAutograd} tensors for {extraLayers} layers: the measure cannot tell");
    }
}
