// Small driver (written for prism's reference data): computes KSG TE with JIDT.
// usage: java RunTe file.csv alg K kHist kTau l lTau delay
//   csv: two columns (source,target), no header. Prints TE source->target and target->source.
import infodynamics.measures.continuous.kraskov.TransferEntropyCalculatorKraskov;
import java.nio.file.*;
import java.util.*;

public class RunTe {
    static double te(double[] src, double[] dst, String[] a) throws Exception {
        TransferEntropyCalculatorKraskov c = new TransferEntropyCalculatorKraskov();
        c.setProperty("ALG_NUM", a[1]);
        c.setProperty("k", a[2]);                 // KSG neighbours (passed to the CMI calculator)
        c.setProperty("k_HISTORY", a[3]);
        c.setProperty("k_TAU", a[4]);
        c.setProperty("l_HISTORY", a[5]);
        c.setProperty("l_TAU", a[6]);
        c.setProperty("DELAY", a[7]);
        c.setProperty("NORMALISE", "false");
        c.setProperty("NOISE_LEVEL_TO_ADD", "0");
        c.setProperty("NUM_THREADS", a.length > 8 ? a[8] : "1");
        c.initialise();
        c.setObservations(src, dst);
        double v = c.computeAverageLocalOfObservations();
        java.lang.reflect.Field f = c.getClass().getSuperclass().getDeclaredField("condMiCalc");
        f.setAccessible(true);
        System.err.println("# cmi class=" + f.get(c).getClass().getSimpleName()
            + " k=" + c.getProperty("k") + " k_HISTORY=" + c.getProperty("k_HISTORY")
            + " k_TAU=" + c.getProperty("k_TAU") + " l_HISTORY=" + c.getProperty("l_HISTORY")
            + " l_TAU=" + c.getProperty("l_TAU") + " DELAY=" + c.getProperty("DELAY")
            + " NORMALISE=" + c.getProperty("NORMALISE") + " NOISE=" + c.getProperty("NOISE_LEVEL_TO_ADD")
            + " DYN_CORR_EXCL=" + c.getProperty("DYN_CORR_EXCL")
            + " nobs=" + c.getNumObservations());
        return v;
    }
    public static void main(String[] a) throws Exception {
        List<String> lines = Files.readAllLines(Paths.get(a[0]));
        double[] s = new double[lines.size()], t = new double[lines.size()];
        for (int i = 0; i < lines.size(); i++) {
            String[] p = lines.get(i).split(",");
            s[i] = Double.parseDouble(p[0].trim());
            t[i] = Double.parseDouble(p[1].trim());
        }
        double fwd = te(s, t, a), rev = te(t, s, a);
        System.out.println(Long.toHexString(Double.doubleToRawLongBits(fwd)) + " "
            + Long.toHexString(Double.doubleToRawLongBits(rev)) + " " + fwd + " " + rev);
    }
}
